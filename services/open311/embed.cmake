# Writes the OpenAPI description as a C++ source: cmake -DIN=openapi.yaml -DOUT=openapi_yaml.cc -P embed.cmake
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" length)
math(EXPR size "${length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUT}"
  "// Generated from services/open311/openapi.yaml; do not edit.\n"
  "#include <string_view>\n"
  "namespace meldpunt::open311 {\n"
  "namespace { const char kBytes[] = {${bytes} 0}; }\n"
  "extern const std::string_view kOpenApiYaml;\n"
  "const std::string_view kOpenApiYaml(kBytes, ${size});\n"
  "}  // namespace meldpunt::open311\n")
