//! Compiles every `.proto` under `cep/` with protox (no system protoc) and writes the
//! encoded descriptor set that the services register for server reflection.
//!
//! Two rules are enforced here rather than in each `.proto`:
//! - every message gets `prost::Name` (`enable_type_names`), so the bus takes an
//!   event's CloudEvents type from `Name::full_name()` instead of a hand-typed string;
//! - a message with a field named `nir` gets neither the derived `Debug` (it would print
//!   the number: `src/redacted.rs` implements it by hand) nor `serde::Serialize` (a
//!   JSON rendering would carry it just as silently). Adding a `nir` field to another
//!   message therefore fails to compile until its `Debug` is written by hand.

use std::path::{Path, PathBuf};

use prost::Message;
use prost_types::{DescriptorProto, FileDescriptorSet};

/// The field whose value must never reach a log line or a serialized rendering.
const NIR_FIELD: &str = "nir";

fn proto_files(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            proto_files(&path, found)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            found.push(path);
        }
    }
    Ok(())
}

/// The fully qualified names (`.pkg.Message`) of the messages with and without a NIR.
#[derive(Default)]
struct Messages {
    with_nir: Vec<String>,
    without_nir: Vec<String>,
    enums: Vec<String>,
}

fn classify(fds: &FileDescriptorSet) -> Result<Messages, String> {
    let mut found = Messages::default();
    for file in &fds.file {
        let package = file.package();
        for e in &file.enum_type {
            found.enums.push(format!(".{package}.{}", e.name()));
        }
        for message in &file.message_type {
            classify_message(&format!(".{package}"), message, &mut found)?;
        }
    }
    Ok(found)
}

fn classify_message(
    parent: &str,
    message: &DescriptorProto,
    found: &mut Messages,
) -> Result<(), String> {
    let name = format!("{parent}.{}", message.name());
    let has_nir = message.field.iter().any(|f| f.name() == NIR_FIELD);
    if has_nir {
        // prost matches attribute paths by prefix: a nested type or a oneof of a NIR
        // message, or a NIR message nested in another, would inherit attributes this
        // script cannot target one by one
        if !message.nested_type.is_empty()
            || !message.enum_type.is_empty()
            || !message.oneof_decl.is_empty()
        {
            return Err(format!(
                "{name} carries a nir: keep it a top-level message without nested types or \
                 oneofs, or extend proto/build.rs"
            ));
        }
        found.with_nir.push(name.clone());
    } else {
        found.without_nir.push(name.clone());
    }
    for e in &message.enum_type {
        found.enums.push(format!("{name}.{}", e.name()));
    }
    for nested in &message.nested_type {
        if nested.field.iter().any(|f| f.name() == NIR_FIELD) {
            return Err(format!(
                "{name}.{} carries a nir: make it a top-level message",
                nested.name()
            ));
        }
        classify_message(&name, nested, found)?;
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut files = Vec::new();
    proto_files(&root.join("cep"), &mut files)?;
    files.sort();
    println!("cargo:rerun-if-changed=cep");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }

    let descriptors = protox::compile(&files, [&root])?;
    std::fs::write(
        out_dir.join("cep_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;

    let messages = classify(&descriptors)?;
    let mut builder = tonic_prost_build::configure().skip_debug(&messages.with_nir);
    for path in messages.without_nir.iter().chain(&messages.enums) {
        builder = builder.type_attribute(path, "#[derive(serde::Serialize)]");
    }
    let mut config = tonic_prost_build::Config::new();
    config.enable_type_names();
    builder.compile_fds_with_config(descriptors, config)?;
    Ok(())
}
