# Embeds every *.schema file of DIR, in name order, as one C string
# (schema_text) so the binary carries its own schema table.  A marker line
# "#@file NAME" precedes each file so parse errors can name file and line.
file(GLOB files ${DIR}/*.schema)
list(SORT files)
set(body "")
foreach(f ${files})
  get_filename_component(fname ${f} NAME)
  file(READ ${f} content)
  string(REPLACE "\\" "\\\\" content "${content}")
  string(REPLACE "\"" "\\\"" content "${content}")
  string(REPLACE "\n" "\\n\"\n\"" content "${content}")
  string(APPEND body "\"#@file ${fname}\\n\"\n\"${content}\\n\"\n")
endforeach()
if(body STREQUAL "")
  set(body "\"\"")
endif()
file(WRITE ${OUT}.tmp "/* generated from the .schema files in apiserver/schema */\nconst char schema_text[] =\n${body};\n")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
