//! The quinn cells: our stack against quinn-proto in memory (`interop/quinn-mem`), one
//! `quinn-interop` process per cell.

use super::*;

/// The (client, server) pairs with quinn that the selection asks for: quinn-proto runs in
/// memory against our stack, both directions.
pub(super) fn quinn_pairs(
    sel: &Selection,
) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
    [("ours", "quinn"), ("quinn", "ours")]
        .into_iter()
        .filter(|(c, s)| sel.clients.contains(c) && sel.servers.contains(s))
}

/// Builds the `quinn-interop` binary (interop/quinn-mem, debug: a whole quinn run takes a
/// few seconds that way) and returns its path, or why it cannot run.
pub(super) fn quinn_program() -> std::result::Result<PathBuf, String> {
    run(cargo().args(["build", "-p", "quinn-interop", "--bin", "quinn-interop"]))
        .map_err(|e| format!("not built: {e}"))?;
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    Ok(Path::new(&target).join("debug").join("quinn-interop"))
}

/// The quinn cells of `case`: one run of `program` per direction, in memory (no sockets,
/// virtual time). The program checks the case's own evidence (Retry on the wire, session
/// resumed, 0-RTT accepted, key phase changed, ...) and exits 0, 1 or 127; the downloads
/// are then compared byte for byte here, as for every other cell.
pub(super) fn quinn_cells(
    case: &'static Case,
    sel: &Selection,
    program: &std::result::Result<PathBuf, String>,
    www: &Path,
    out: &Path,
) -> Vec<Cell> {
    let mut cells = Vec::new();
    for (client, server) in quinn_pairs(sel) {
        let dir = out
            .join("runs")
            .join(case.name)
            .join(format!("{client}-{server}"));
        let t = Instant::now();
        let outcome = match program {
            Ok(program) => run_quinn_cell(case, program, client, server, www, &dir)
                .unwrap_or_else(Outcome::Fail),
            Err(why) => Outcome::NotAvailable(why.clone()),
        };
        let cell = Cell {
            case: case.name,
            client,
            server,
            outcome,
            seconds: t.elapsed().as_secs_f64(),
            dir: program.is_ok().then_some(dir),
        };
        report_cell(&cell);
        cells.push(cell);
    }
    cells
}

/// Runs one quinn cell: `program` with the case, both roles, the files and a download
/// directory, bounded by the case's time limit.
pub(super) fn run_quinn_cell(
    case: &Case,
    program: &Path,
    client: &str,
    server: &str,
    www: &Path,
    dir: &Path,
) -> Result<Outcome> {
    let _ = fs::remove_dir_all(dir);
    let downloads = dir.join("downloads");
    mkdir(&downloads)?;
    let log = dir.join("run.log");
    let mut cmd = Command::new(program);
    cmd.args(["--case", case.name, "--client", client, "--server", server])
        .arg("--www")
        .arg(www)
        .arg("--downloads")
        .arg(&downloads)
        .arg("--keylog")
        .arg(dir.join("keylog.txt"));
    let mut proc = spawn_logged(&mut cmd, &log)?;
    let Some(status) = proc.wait_until(Instant::now() + case.timeout) else {
        return Ok(Outcome::Fail(format!(
            "timeout: still running after {}s",
            case.timeout.as_secs()
        )));
    };
    if status.code() == Some(EXIT_UNSUPPORTED) {
        return Ok(Outcome::Unsupported(last_line(&log)));
    }
    if !status.success() {
        return Ok(Outcome::Fail(format!(
            "{}: {}",
            describe(status),
            last_line(&log)
        )));
    }
    let files = (case.files)();
    let (missing, differing) = compare_downloads(&downloads, &files);
    if missing + differing > 0 {
        return Ok(Outcome::Fail(format!(
            "exited 0 but {missing} of {} files missing, {differing} differ",
            files.len()
        )));
    }
    Ok(Outcome::Pass)
}
