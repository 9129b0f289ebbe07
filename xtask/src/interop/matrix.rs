//! The matrix: printed, written as JSON, and checked against `interop/expected.json`.

use super::*;

/// Prints the matrix: one block of rows per case (a row per client, a column per server).
pub(super) fn print_matrix(sel: &Selection, cells: &[Cell]) {
    let servers: Vec<&str> = IMPLS
        .iter()
        .copied()
        .filter(|s| sel.servers.contains(s))
        .collect();
    let mut table = String::new();
    let _ = write!(table, "\n{:<21}{:<16}", "case", "client \\ server");
    for s in &servers {
        let _ = write!(table, "{s:<10}");
    }
    table.push('\n');
    for case in &sel.cases {
        let mut first = true;
        for client in IMPLS.iter().filter(|c| sel.clients.contains(c)) {
            let row: Vec<Option<&Cell>> = servers
                .iter()
                .map(|s| {
                    cells
                        .iter()
                        .find(|c| c.case == case.name && c.client == *client && c.server == *s)
                })
                .collect();
            if row.iter().all(Option::is_none) {
                continue;
            }
            let _ = write!(
                table,
                "{:<21}{:<16}",
                if first { case.name } else { "" },
                client
            );
            first = false;
            for cell in row {
                let _ = write!(table, "{:<10}", cell.map_or("", |c| c.outcome.symbol()));
            }
            table.push('\n');
        }
    }
    table.push_str("\n✓ pass   ✗ fail   – unsupported (exit 127)   n/a not available\n");
    let notes: Vec<&Cell> = cells
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Fail(_)))
        .collect();
    for c in notes {
        let _ = writeln!(
            table,
            "✗ {} {} -> {}: {}{}",
            c.case,
            c.client,
            c.server,
            c.outcome.detail(),
            c.dir
                .as_ref()
                .map(|d| format!(" (logs: {})", d.display()))
                .unwrap_or_default()
        );
    }
    let mut why: Vec<String> = cells
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::NotAvailable(_)))
        .map(|c| format!("n/a: {}", c.outcome.detail()))
        .collect();
    why.sort();
    why.dedup();
    for w in why {
        let _ = writeln!(table, "{w}");
    }
    println!("{table}");
}

/// A JSON string literal.
pub(super) fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// matrix.json: every cell with its outcome, detail, duration and log directory.
pub(super) fn matrix_json(cells: &[Cell]) -> String {
    let mut s = String::from("{\n  \"aioquic\": ");
    s.push_str(&json_str(AIOQUIC_REQUIREMENT));
    s.push_str(",\n  \"cells\": [\n");
    for (i, c) in cells.iter().enumerate() {
        let _ = writeln!(
            s,
            "    {{\"case\": {}, \"client\": {}, \"server\": {}, \"result\": {}, \"detail\": {}, \"seconds\": {:.2}, \"dir\": {}}}{}",
            json_str(c.case),
            json_str(c.client),
            json_str(c.server),
            json_str(c.outcome.label()),
            json_str(c.outcome.detail()),
            c.seconds,
            c.dir
                .as_ref()
                .map_or("null".into(), |d| json_str(&d.to_string_lossy())),
            if i + 1 < cells.len() { "," } else { "" }
        );
    }
    s.push_str("  ]\n}\n");
    s
}

/// A cell that must pass: (client, server, case).
type Expected = (String, String, String);

/// Reads `interop/expected.json`:
/// `{"must_pass": [{"client": C, "server": S, "cases": [...]}, ...]}`.
pub(super) fn read_expected(path: &Path) -> Result<Vec<Expected>> {
    let text =
        fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let bad = |what: &str| format!("{}: {what}", path.display());
    let doc = json::parse(&text).map_err(|e| bad(&e))?;
    let groups = doc
        .get("must_pass")
        .and_then(json::Value::as_array)
        .ok_or_else(|| bad("no \"must_pass\" array"))?;
    let mut out = Vec::new();
    for g in groups {
        let field = |k: &str| {
            g.get(k)
                .and_then(json::Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| bad(&format!("an entry has no string \"{k}\"")))
        };
        let (client, server) = (field("client")?, field("server")?);
        for name in [&client, &server] {
            if !IMPLS.contains(&name.as_str()) {
                return Err(bad(&format!("unknown implementation {name:?}")));
            }
        }
        let cases = g
            .get("cases")
            .and_then(json::Value::as_array)
            .ok_or_else(|| bad("an entry has no \"cases\" array"))?;
        for case in cases {
            let case = case.as_str().ok_or_else(|| bad("a case is not a string"))?;
            if !CASES.iter().any(|c| c.name == case) {
                return Err(bad(&format!("unknown test case {case:?}")));
            }
            out.push((client.clone(), server.clone(), case.to_owned()));
        }
    }
    Ok(out)
}

/// Fails when a selected cell listed in expected.json did not pass; points out cells that
/// pass without being listed.
pub(super) fn check_expected(sel: &Selection, cells: &[Cell], expected: &[Expected]) -> Result {
    let mut regressions = Vec::new();
    for (client, server, case) in expected {
        let selected = sel.clients.contains(&client.as_str())
            && sel.servers.contains(&server.as_str())
            && sel.cases.iter().any(|c| c.name == case);
        if !selected {
            continue;
        }
        let cell = cells
            .iter()
            .find(|c| c.client == client && c.server == server && c.case == case);
        match cell.map(|c| &c.outcome) {
            Some(Outcome::Pass) => {}
            Some(other) => regressions.push(format!(
                "{case} {client} -> {server}: {} {}",
                other.label(),
                other.detail()
            )),
            None => regressions.push(format!("{case} {client} -> {server}: not run")),
        }
    }
    for c in cells {
        let listed = expected
            .iter()
            .any(|(cl, sv, cs)| cl == c.client && sv == c.server && cs == c.case);
        if c.outcome == Outcome::Pass && !listed {
            println!(
                "note: {} {} -> {} passes but is not in interop/expected.json",
                c.case, c.client, c.server
            );
        }
    }
    if regressions.is_empty() {
        println!("interop: every expected cell passed");
        Ok(())
    } else {
        for r in &regressions {
            println!("regression: {r}");
        }
        Err(format!(
            "{} expected interop cell(s) did not pass",
            regressions.len()
        ))
    }
}
