//! Generates the tonic/prost code for `plugwire.v1` with a vendored `protoc`,
//! so building needs no system protobuf compiler.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "plugwire/v1/plugin.proto",
    "plugwire/v1/tool.proto",
    "plugwire/v1/command.proto",
    "plugwire/v1/hook.proto",
    "plugwire/v1/host.proto",
];

const GO_PLUGIN_PROTO: &str = "go-plugin/plugin.proto";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded; nothing else reads the
    // environment concurrently.
    unsafe { std::env::set_var("PROTOC", protoc) };
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("plugwire_v1_descriptor.bin"))
        .compile_protos(PROTOS, &["."])?;
    // go-plugin's services, for interoperating with go-plugin hosts and
    // plugins; not part of plugwire.v1 and not in its reflection set.
    println!("cargo:rerun-if-changed={GO_PLUGIN_PROTO}");
    tonic_prost_build::configure().compile_protos(&[GO_PLUGIN_PROTO], &["go-plugin"])?;
    Ok(())
}
