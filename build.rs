//! Lets the binaries, tests and examples find libtorch at run time: an rpath to the libtorch
//! that torch-sys linked against (LIBTORCH, set by .cargo/config.toml).
fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-changed=build.rs");
    if let Ok(dir) = std::env::var("LIBTORCH") {
        let dir = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.into());
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}/lib", dir.display());
    }
}
