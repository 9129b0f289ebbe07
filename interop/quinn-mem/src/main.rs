//! `quinn-interop`: runs one interop cell between our stack and quinn-proto in memory.
//!
//! ```text
//! quinn-interop --case NAME --client ours|quinn --server ours|quinn --www DIR
//!               --downloads DIR [--keylog FILE]
//! ```
//!
//! Every file of `--www` is fetched and saved under `--downloads`. Exit status: 0 when every
//! file was downloaded and the case's evidence found, 127 when the pair does not support the
//! case (the reason is printed), 1 otherwise (with the reason).

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use quinn_interop::{run, Case, Impl, Options, Outcome};

const USAGE: &str = "usage: quinn-interop --case NAME --client ours|quinn --server ours|quinn \
                     --www DIR --downloads DIR [--keylog FILE]";

fn parse() -> Result<Options, String> {
    let mut case = None;
    let mut client = None;
    let mut server = None;
    let mut www = None;
    let mut downloads = None;
    let mut keylog = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--case" => {
                case = Some(Case::parse(&value).ok_or_else(|| format!("unknown case {value:?}"))?)
            }
            "--client" => client = Some(Impl::parse(&value).ok_or("--client: ours or quinn")?),
            "--server" => server = Some(Impl::parse(&value).ok_or("--server: ours or quinn")?),
            "--www" => www = Some(PathBuf::from(value)),
            "--downloads" => downloads = Some(PathBuf::from(value)),
            "--keylog" => keylog = Some(PathBuf::from(value)),
            _ => return Err(format!("unknown argument {flag:?}\n{USAGE}")),
        }
    }
    Ok(Options {
        case: case.ok_or(USAGE)?,
        client: client.ok_or(USAGE)?,
        server: server.ok_or(USAGE)?,
        www: www.ok_or(USAGE)?,
        downloads: downloads.ok_or(USAGE)?,
        keylog,
        bleach_ecn: false,
        offer_preferred: None,
    })
}

fn main() -> ExitCode {
    let opts = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("quinn-interop: {e}");
            return ExitCode::from(2);
        }
    };
    let who = format!(
        "{} {} -> {}",
        opts.case.name(),
        opts.client.name(),
        opts.server.name()
    );
    match run(&opts) {
        Outcome::Pass(summary) => {
            println!("quinn-interop: {who}: pass: {summary}");
            ExitCode::SUCCESS
        }
        Outcome::Unsupported(why) => {
            println!("quinn-interop: {who}: unsupported: {why}");
            ExitCode::from(127)
        }
        Outcome::Fail(why) => {
            println!("quinn-interop: {who}: fail: {why}");
            ExitCode::from(1)
        }
    }
}
