// drift::exporters: the library's translation units live beside this one.
namespace drift::exporters {
/// Present so the library always has an object file while its parts are added.
int library_version() { return 1; }
}  // namespace drift::exporters
