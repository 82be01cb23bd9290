//! Generates the `examples.kv.v1` code from `sdk-examples/proto/`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded.
    unsafe { std::env::set_var("PROTOC", protoc) };
    let root = PathBuf::from("../../proto");
    let proto = root.join("examples/kv/v1/kv.proto");
    println!("cargo:rerun-if-changed={}", proto.display());
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("kv_descriptor.bin"))
        .compile_protos(&[proto], &[root])?;
    Ok(())
}
