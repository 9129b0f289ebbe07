//! The results: a plain-text table, JSON and an SVG bar chart, all written by hand.

use std::fmt::Write as _;

use crate::run::median;

/// Name of the stack in the numerator of the ratio column.
pub const OURS: &str = "ours";
/// Name of the stack in the denominator.
pub const QUINN: &str = "quinn";

/// One stack's column.
#[derive(Debug, Clone)]
pub struct StackColumn {
    /// Short name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Why it did not run, if it did not.
    pub unavailable: Option<String>,
}

/// One figure, measured on every stack.
#[derive(Debug, Clone)]
pub struct Metric {
    /// Stable identifier (JSON key).
    pub key: String,
    /// What the row says.
    pub label: String,
    /// Unit of the values.
    pub unit: String,
    /// Whether a bigger value is better.
    pub higher_is_better: bool,
    /// Per stack (same order as [`Report::stacks`]), every run's value; empty when not run.
    pub samples: Vec<Vec<f64>>,
}

impl Metric {
    /// The median for stack `i`, if it ran.
    pub fn median(&self, i: usize) -> Option<f64> {
        median(self.samples.get(i)?)
    }
}

/// The crypto ceiling: ring AES-128-GCM seal + open with header protection, one core.
#[derive(Debug, Clone, Copy)]
pub struct Ceiling {
    /// Nanoseconds per 1200-byte packet.
    pub ns_1200: f64,
    /// Nanoseconds per 1452-byte packet.
    pub ns_1452: f64,
}

impl Ceiling {
    /// MB/s (10^6 bytes per second) of 1452-byte datagrams the cipher alone allows.
    pub fn mbps(&self) -> f64 {
        1452.0 / self.ns_1452 * 1e3
    }
}

/// Everything one benchmark run found.
#[derive(Debug, Clone)]
pub struct Report {
    /// Whether this was the `--quick` smoke run.
    pub quick: bool,
    /// The sizes and protocol settings used.
    pub settings: Vec<(String, String)>,
    /// The stacks, in column order.
    pub stacks: Vec<StackColumn>,
    /// The per-stack figures.
    pub metrics: Vec<Metric>,
    /// The crypto ceiling.
    pub ceiling: Ceiling,
}

impl Report {
    fn index(&self, name: &str) -> Option<usize> {
        self.stacks.iter().position(|s| s.name == name)
    }

    /// ours/quinn for `m`, when both were measured.
    pub fn ratio(&self, m: &Metric) -> Option<f64> {
        let ours = m.median(self.index(OURS)?)?;
        let quinn = m.median(self.index(QUINN)?)?;
        (quinn != 0.0).then(|| ours / quinn)
    }

    /// Writes `results.json` and `results.svg` into `dir` (created if missing); returns the
    /// paths written.
    pub fn write_files(&self, dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut written = Vec::new();
        for (name, text) in [("results.json", self.json()), ("results.svg", self.svg())] {
            let path = dir.join(name);
            std::fs::write(&path, text)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            written.push(path);
        }
        Ok(written)
    }

    /// The plain-text table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = write!(out, "{:<36} {:>10}", "figure (median)", "unit");
        for s in &self.stacks {
            let _ = write!(out, " {:>10}", s.name);
        }
        let _ = writeln!(out, " {:>11}", "ours/quinn");
        for m in &self.metrics {
            let _ = write!(out, "{:<36} {:>10}", m.label, m.unit);
            for i in 0..self.stacks.len() {
                let _ = write!(out, " {:>10}", fmt_opt(m.median(i)));
            }
            let ratio = self.ratio(m).map_or("n/a".into(), |r| format!("{r:.2}x"));
            let _ = writeln!(out, " {ratio:>11}");
        }
        let _ = writeln!(
            out,
            "crypto ceiling (ring AES-128-GCM seal+open, header protection, one core): \
             {:.0} ns per 1200-byte packet, {:.0} ns per 1452-byte packet = {:.0} MB/s",
            self.ceiling.ns_1200,
            self.ceiling.ns_1452,
            self.ceiling.mbps()
        );
        for s in &self.stacks {
            match &s.unavailable {
                Some(why) => {
                    let _ = writeln!(out, "{}: {} - {}", s.name, s.description, why);
                }
                None => {
                    let _ = writeln!(out, "{}: {}", s.name, s.description);
                }
            }
        }
        out
    }

    /// The JSON document.
    pub fn json(&self) -> String {
        let mut o = String::from("{\n");
        let _ = writeln!(o, "  \"quick\": {},", self.quick);
        o.push_str("  \"settings\": {");
        for (i, (k, v)) in self.settings.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(o, "{sep}\n    {}: {}", json_str(k), json_str(v));
        }
        o.push_str("\n  },\n  \"stacks\": [");
        for (i, s) in self.stacks.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(
                o,
                "{sep}\n    {{\"name\": {}, \"description\": {}, \"available\": {}, \"reason\": {}}}",
                json_str(&s.name),
                json_str(&s.description),
                s.unavailable.is_none(),
                s.unavailable.as_deref().map_or("null".into(), json_str)
            );
        }
        let c = &self.ceiling;
        let _ = write!(
            o,
            "\n  ],\n  \"crypto_ceiling\": {{\"ns_per_packet_1200\": {}, \"ns_per_packet_1452\": {}, \
             \"datagram_mbps_1452\": {}}},\n  \"metrics\": [",
            json_num(c.ns_1200),
            json_num(c.ns_1452),
            json_num(c.mbps())
        );
        for (mi, m) in self.metrics.iter().enumerate() {
            let sep = if mi == 0 { "" } else { "," };
            let _ = write!(
                o,
                "{sep}\n    {{\"key\": {}, \"label\": {}, \"unit\": {}, \"higher_is_better\": {}, \"values\": {{",
                json_str(&m.key),
                json_str(&m.label),
                json_str(&m.unit),
                m.higher_is_better
            );
            for (i, s) in self.stacks.iter().enumerate() {
                let sep = if i == 0 { "" } else { ", " };
                let value = match m.median(i) {
                    None => "null".to_owned(),
                    Some(med) => {
                        let samples: Vec<String> =
                            m.samples[i].iter().map(|v| json_num(*v)).collect();
                        format!(
                            "{{\"median\": {}, \"samples\": [{}]}}",
                            json_num(med),
                            samples.join(", ")
                        )
                    }
                };
                let _ = write!(o, "{sep}{}: {value}", json_str(&s.name));
            }
            let _ = write!(
                o,
                "}}, \"ratio_ours_over_quinn\": {}}}",
                self.ratio(m).map_or("null".into(), json_num)
            );
        }
        o.push_str("\n  ]\n}\n");
        o
    }

    /// A horizontal bar chart: one group per figure, one bar per stack, each group scaled to
    /// its own largest value (the units differ), the ratio at the right.
    pub fn svg(&self) -> String {
        const COLORS: [&str; 4] = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759"];
        let label_w = 300.0;
        let bar_max = 420.0;
        let bar_h = 14.0;
        let width = 940.0;
        let group_h = bar_h * self.stacks.len().max(1) as f64 + 16.0;
        let top = 70.0;
        let height = top + group_h * self.metrics.len() as f64 + 60.0;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
             viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">"
        );
        let _ = writeln!(
            s,
            "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"10\" y=\"22\" font-size=\"16\" font-weight=\"bold\">QUIC side by side: {} \
             (medians{})</text>",
            self.stacks
                .iter()
                .map(|c| xml(&c.name))
                .collect::<Vec<_>>()
                .join(" vs "),
            if self.quick { ", quick smoke run" } else { "" }
        );
        for (i, c) in self.stacks.iter().enumerate() {
            let x = 10.0 + 220.0 * i as f64;
            let note = if c.unavailable.is_some() {
                " (n/a)"
            } else {
                ""
            };
            let _ = writeln!(
                s,
                "<rect x=\"{x}\" y=\"36\" width=\"12\" height=\"12\" fill=\"{}\"/>\
                 <text x=\"{}\" y=\"46\">{}{note}</text>",
                COLORS[i % COLORS.len()],
                x + 18.0,
                xml(&c.name)
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"46\" text-anchor=\"end\">ours/quinn</text>",
            width - 10.0
        );
        for (mi, m) in self.metrics.iter().enumerate() {
            let y0 = top + group_h * mi as f64;
            let max = (0..self.stacks.len())
                .filter_map(|i| m.median(i))
                .fold(0.0f64, f64::max);
            let better = if m.higher_is_better {
                "higher is better"
            } else {
                "lower is better"
            };
            let _ = writeln!(
                s,
                "<text x=\"10\" y=\"{}\">{}</text><text x=\"10\" y=\"{}\" fill=\"#666\" \
                 font-size=\"10\">{}, {better}</text>",
                y0 + 12.0,
                xml(&m.label),
                y0 + 25.0,
                xml(&m.unit)
            );
            for i in 0..self.stacks.len() {
                let y = y0 + bar_h * i as f64;
                match m.median(i) {
                    Some(v) => {
                        let w = if max > 0.0 { bar_max * v / max } else { 0.0 };
                        let _ = writeln!(
                            s,
                            "<rect x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" \
                             fill=\"{}\"/><text x=\"{:.1}\" y=\"{}\">{}</text>",
                            bar_h - 2.0,
                            COLORS[i % COLORS.len()],
                            label_w + w + 4.0,
                            y + bar_h - 4.0,
                            fmt_num(v)
                        );
                    }
                    None => {
                        let _ = writeln!(
                            s,
                            "<text x=\"{}\" y=\"{}\" fill=\"#999\">n/a</text>",
                            label_w + 4.0,
                            y + bar_h - 4.0
                        );
                    }
                }
            }
            let ratio = self.ratio(m).map_or("n/a".into(), |r| format!("{r:.2}x"));
            let _ = writeln!(
                s,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{ratio}</text>",
                width - 10.0,
                y0 + 12.0
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"10\" y=\"{}\" fill=\"#333\">crypto ceiling (ring AES-128-GCM seal+open, \
             header protection, one core): {:.0} ns per 1452-byte packet = {:.0} MB/s, \
             {:.0} ns per 1200-byte packet</text>",
            height - 30.0,
            self.ceiling.ns_1452,
            self.ceiling.mbps(),
            self.ceiling.ns_1200
        );
        let _ = writeln!(
            s,
            "<text x=\"10\" y=\"{}\" fill=\"#666\" font-size=\"10\">in-memory harness, one \
             thread, both ends counted; bars scaled per figure</text>\n</svg>",
            height - 12.0
        );
        s
    }
}

/// Formats a value with a precision that suits its size.
pub fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("n/a".into(), fmt_num)
}

fn json_num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "null".into()
    }
}

fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        Report {
            quick: true,
            settings: vec![("a \"b\"".into(), "c\\d".into())],
            stacks: vec![
                StackColumn {
                    name: "quinn".into(),
                    description: "q".into(),
                    unavailable: None,
                },
                StackColumn {
                    name: "ours".into(),
                    description: "o".into(),
                    unavailable: Some("not yet".into()),
                },
            ],
            metrics: vec![Metric {
                key: "k".into(),
                label: "bulk <x>".into(),
                unit: "MB/s".into(),
                higher_is_better: true,
                samples: vec![vec![3.0, 1.0, 2.0], vec![]],
            }],
            ceiling: Ceiling {
                ns_1200: 500.0,
                ns_1452: 580.8,
            },
        }
    }

    #[test]
    fn missing_stack_shows_na_and_no_ratio() {
        let r = sample();
        let t = r.table();
        assert!(t.contains("2.000"), "{t}");
        assert!(t.contains("n/a"), "{t}");
        assert_eq!(r.ratio(&r.metrics[0]), None);
        assert!(r.json().contains("\"ours\": null"));
        assert!(r.json().contains("\"ratio_ours_over_quinn\": null"));
        assert!(r.json().contains("\"a \\\"b\\\"\": \"c\\\\d\""));
        let svg = r.svg();
        assert!(svg.contains("bulk &lt;x&gt;") && svg.ends_with("</svg>\n"));
    }

    #[test]
    fn ratio_when_both_ran() {
        let mut r = sample();
        r.metrics[0].samples[1] = vec![4.0];
        assert_eq!(r.ratio(&r.metrics[0]), Some(2.0));
        assert!((r.ceiling.mbps() - 2500.0).abs() < 1.0);
    }
}
