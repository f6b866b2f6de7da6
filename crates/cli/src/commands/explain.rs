//! `hhrisk explain`: one household's score, item by item.

use std::io::Write;

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use hhrisk_roster::Issue;
use hhrisk_score::Scorer;

use super::*;

pub fn explain(
    model_path: &Path,
    roster_dir: &Path,
    household: &str,
    thresholds: Option<&Path>,
    json: bool,
    unmasked: bool,
    io: Io,
) -> anyhow::Result<ExitCode> {
    use hhrisk_roster::stream::{each, Streamed};
    use hhrisk_score::{explain_household, Explanation};

    /// What became of the household asked about.
    enum Found {
        Explained(Box<Explanation>),
        Refused(Vec<Issue>),
    }

    let model = load_model(model_path)?;
    let bands = load_bands(&model, thresholds)?;
    let scorer = Scorer::new(&model, &bands);
    let options = io.read_options(unmasked);
    // the roster is streamed (as `score` reads it), or read whole when it must be
    let work = each(|h, found: &mut Vec<Found>| {
        match h {
            Streamed::Household(h) if h.id == household => {
                found.push(Found::Explained(Box::new(explain_household(&scorer, h, unmasked))));
            }
            Streamed::Refused(issues)
                if issues.iter().any(|i| i.household_id.as_deref() == Some(household)) =>
            {
                found.push(Found::Refused(issues.to_vec()));
            }
            _ => {}
        }
        Ok(())
    });
    let (_, found) = read_all(&model, roster_dir, &options, io.threads, &work)?;
    let found = found.into_iter().flatten().next();
    let explanation = match found {
        Some(Found::Explained(explanation)) => explanation,
        Some(Found::Refused(issues)) => {
            eprintln!(
                "{}",
                crate::tr!(
                    "household {household} was refused; it has no score until these are fixed:",
                    "户 {household} 被拒收；以下问题改正之前，该户没有评分："
                )
            );
            print_issues(&shown(issues, unmasked));
            return Ok(ExitCode::FAILURE);
        }
        None => {
            let file = roster_dir.join("households.csv");
            let file = file.display();
            bail!(crate::tr!("household {household} is not in {file}", "户 {household} 不在 {file} 中"))
        }
    };
    let mut stdout = std::io::stdout().lock();
    if json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&explanation)?)?;
    } else {
        let text = if crate::lang::zh() { explanation.to_text_zh() } else { explanation.to_text() };
        write!(stdout, "{text}")?;
    }
    Ok(ExitCode::SUCCESS)
}
