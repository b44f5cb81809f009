//! `trellis`: command-line tools for schemas, GGUF models and LoRA adapters.
//!
//! ```text
//! trellis schema compile <schema.json | folder> [--lenient] [--json]
//! trellis schema check <schema.json> <instance.json | file.jsonl> [--canonical] [--lenient] [--json]
//! trellis gguf inspect <model.gguf> [--json]
//! trellis lora inspect <adapter.gguf> [--base <model.gguf>] [--json]
//! trellis lora convert <adapter_config.json> <adapter_model.safetensors> --base <model.gguf> -o <out.gguf>
//! ```
//!
//! Exit codes: 0 success; 1 a schema failed to compile, an instance was rejected, or a file
//! is invalid; 2 (`schema check`) the schema was refused, or a usage error.

mod canonical;
mod files;
mod schema_cmd;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Command-line tools for Trellis: compile and check JSON Schemas, inspect GGUF files and
/// LoRA adapters.
#[derive(Debug, Parser)]
#[command(name = "trellis", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// JSON Schema tools.
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// GGUF model files.
    #[command(subcommand)]
    Gguf(GgufCommand),
    /// LoRA adapters.
    #[command(subcommand)]
    Lora(LoraCommand),
}

#[derive(Debug, Subcommand)]
enum SchemaCommand {
    /// Compile a schema (or every *.json in a folder) and print the grammar size and
    /// compile time, or the error with its JSON pointer. Exit 1 on any error.
    Compile {
        /// A schema file or a folder of *.json schemas.
        path: PathBuf,
        #[command(flatten)]
        opts: CommonOpts,
    },
    /// Check an instance (or each line of a .jsonl file) against a schema: exit 0 when the
    /// compiled grammar accepts its compact serialization, 1 with the rejected byte offset,
    /// 2 when the schema is refused.
    Check {
        /// The schema file.
        schema: PathBuf,
        /// A JSON instance, or a .jsonl file with one instance per line.
        instance: PathBuf,
        /// Reorder object keys into schema property order before checking.
        #[arg(long)]
        canonical: bool,
        #[command(flatten)]
        opts: CommonOpts,
    },
}

#[derive(Debug, Args, Clone, Copy)]
struct CommonOpts {
    /// Skip keywords that cannot be enforced instead of failing.
    #[arg(long)]
    lenient: bool,
    /// Machine-readable output: one JSON object per line.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum GgufCommand {
    /// Print a GGUF file's version, architecture, metadata summary and tensors.
    Inspect {
        /// The GGUF file.
        path: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum LoraCommand {
    /// Print a LoRA adapter's rank, alpha and targets; with --base, validate it against a
    /// base model (exit 1 if it does not fit).
    Inspect {
        /// The adapter GGUF file.
        path: PathBuf,
        /// Base model to validate against.
        #[arg(long)]
        base: Option<PathBuf>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Convert a Hugging Face PEFT LoRA adapter to a GGUF adapter for a base model.
    Convert {
        /// adapter_config.json
        config: PathBuf,
        /// adapter_model.safetensors
        safetensors: PathBuf,
        /// The base model (GGUF) the adapter is for.
        #[arg(long)]
        base: PathBuf,
        /// Output GGUF file.
        #[arg(short, long)]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let code = match cli.command {
        Command::Schema(SchemaCommand::Compile { path, opts }) => {
            schema_cmd::compile(&path, opts.lenient, opts.json, &mut out)
        }
        Command::Schema(SchemaCommand::Check {
            schema,
            instance,
            canonical,
            opts,
        }) => schema_cmd::check(
            &schema,
            &instance,
            canonical,
            opts.lenient,
            opts.json,
            &mut out,
        ),
        Command::Gguf(GgufCommand::Inspect { path, json }) => {
            files::gguf_inspect(&path, json, &mut out)
        }
        Command::Lora(LoraCommand::Inspect { path, base, json }) => {
            files::lora_inspect(&path, base.as_deref(), json, &mut out)
        }
        Command::Lora(LoraCommand::Convert {
            config,
            safetensors,
            base,
            out: out_path,
        }) => files::lora_convert(&config, &safetensors, &base, &out_path, &mut out),
    };
    let _ = out.flush();
    ExitCode::from(code)
}
