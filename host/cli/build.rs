//! Generates the client of the example `KeyValue` provider, which the
//! `plugwire demo` command uses to show typed provider calls.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded.
    unsafe { std::env::set_var("PROTOC", protoc) };
    let root = PathBuf::from("../../sdk-examples/proto");
    let proto = root.join("examples/kv/v1/kv.proto");
    println!("cargo:rerun-if-changed={}", proto.display());
    tonic_prost_build::configure()
        .build_server(false)
        .compile_protos(&[proto], &[root])?;
    Ok(())
}
