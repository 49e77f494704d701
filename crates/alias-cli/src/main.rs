//! The `mixpanel-alias` binary: everything is in the library, which the fuzz targets share.

fn main() -> std::process::ExitCode {
    alias_cli::main()
}
