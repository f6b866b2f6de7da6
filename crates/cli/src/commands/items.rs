//! `hhrisk items`: the model's items as a table.

use std::io::Write;

use std::path::Path;
use std::process::ExitCode;

use hhrisk_score::output::format_number;

use super::*;

/// Output formats of `hhrisk items`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ItemsFormat {
    /// A Markdown table.
    Markdown,
    /// CSV.
    Csv,
}

pub fn items(model_path: &Path, format: ItemsFormat) -> anyhow::Result<ExitCode> {
    let model = load_model(model_path)?;
    let rows = model.items.iter().map(|it| {
        let flags = [(it.main, "main"), (it.trigger, "trigger")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, f)| *f)
            .collect::<Vec<_>>()
            .join(", ");
        [
            it.id.clone(),
            model.categories[it.category].id.clone(),
            it.name.clone(),
            it.name_en.clone().unwrap_or_default(),
            format!("`{}`", it.when),
            format_number(it.points),
            format!("{:?}", it.per).to_lowercase(),
            model.departments[it.department].id.clone(),
            flags,
            it.rationale.clone().unwrap_or_default(),
        ]
    });
    let header =
        ["id", "category", "name", "name_en", "when", "points", "per", "department", "flags", "rationale"];
    let mut stdout = std::io::stdout().lock();
    match format {
        ItemsFormat::Markdown => {
            writeln!(stdout, "| {} |", header.join(" | "))?;
            writeln!(stdout, "|{}", "---|".repeat(header.len()))?;
            for row in rows {
                let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
                writeln!(stdout, "| {} |", cells.join(" | "))?;
            }
        }
        ItemsFormat::Csv => {
            let mut csv = csv::Writer::from_writer(stdout);
            csv.write_record(header)?;
            for mut row in rows {
                row[4] = row[4].trim_matches('`').to_string();
                csv.write_record(&row)?;
            }
            csv.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
