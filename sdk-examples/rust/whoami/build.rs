//! Generates the `acme.session.v1` client (for the plugin) and server (for
//! the host test that plays the application) from `sdk-examples/proto/`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded.
    unsafe { std::env::set_var("PROTOC", protoc) };
    let root = PathBuf::from("../../proto");
    let proto = root.join("acme/session/v1/session.proto");
    println!("cargo:rerun-if-changed={}", proto.display());
    tonic_prost_build::configure().compile_protos(&[proto], &[root])?;
    Ok(())
}
