//! Collects a suite's figures: named values with units, and ratios between them. Tables are printed as
//! markdown as soon as they are complete; [`Report::write_json`] writes every figure and ratio at the end.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use serde_json::{Value, json};

/// One measured value.
#[derive(Clone, Debug)]
pub struct Figure {
    pub value: f64,
    pub unit: String,
}

/// A suite's figures, ratios and tables.
#[derive(Debug)]
pub struct Report {
    suite: String,
    quick: bool,
    figures: BTreeMap<String, Figure>,
    ratios: BTreeMap<String, f64>,
    notes: Vec<String>,
}

impl Report {
    pub fn new(suite: String, quick: bool) -> Report {
        Report {
            suite,
            quick,
            figures: BTreeMap::new(),
            ratios: BTreeMap::new(),
            notes: Vec::new(),
        }
    }

    /// Records a figure, e.g. `("index/10M/lognormal/ours_eps16", 93.1, "ns/lookup")`.
    pub fn figure(&mut self, name: impl Into<String>, value: f64, unit: &str) {
        self.figures.insert(
            name.into(),
            Figure {
                value,
                unit: unit.to_string(),
            },
        );
    }

    /// Records a ratio, e.g. how many times faster ours is than a peer.
    pub fn ratio(&mut self, name: impl Into<String>, value: f64) {
        self.ratios.insert(name.into(), value);
    }

    /// Records a remark that belongs with the figures (a skipped peer, a wrong answer).
    pub fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        eprintln!("note: {note}");
        self.notes.push(note);
    }

    /// Prints a markdown table to stdout.
    pub fn print_table(&self, table: &Table) {
        println!("\n### {}\n", table.title);
        println!("| {} |", table.columns.join(" | "));
        println!("|{}|", vec!["---"; table.columns.len()].join("|"));
        for row in &table.rows {
            println!("| {} |", row.join(" | "));
        }
        println!();
    }

    /// Prints the notes collected so far.
    pub fn print_notes(&self) {
        for n in &self.notes {
            println!("- {n}");
        }
    }

    /// Writes `{suite, quick, figures: {name: {value, unit}}, ratios: {name: value}, notes}`.
    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let figures: serde_json::Map<String, Value> = self
            .figures
            .iter()
            .map(|(k, f)| {
                (
                    k.clone(),
                    json!({ "value": finite(f.value), "unit": f.unit }),
                )
            })
            .collect();
        let ratios: serde_json::Map<String, Value> = self
            .ratios
            .iter()
            .map(|(k, v)| (k.clone(), finite(*v)))
            .collect();
        let doc = json!({
            "suite": self.suite,
            "quick": self.quick,
            "figures": figures,
            "ratios": ratios,
            "notes": self.notes,
        });
        let text = serde_json::to_string_pretty(&doc)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    }
}

/// JSON has no NaN or infinity: those become null.
fn finite(v: f64) -> Value {
    if v.is_finite() { json!(v) } else { Value::Null }
}

/// A markdown table under construction.
#[derive(Clone, Debug)]
pub struct Table {
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(title: impl Into<String>, columns: &[&str]) -> Table {
        Table {
            title: title.into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.columns.len());
        self.rows.push(cells);
    }
}
