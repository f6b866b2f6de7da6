//! `hhrisk diff`: two runs compared.

use std::path::Path;
use std::process::ExitCode;

use hhrisk_roster::Roster;

use super::*;

#[allow(clippy::too_many_arguments)]
pub fn diff(
    model_path: &Path,
    old: &Path,
    new: &Path,
    thresholds: Option<&Path>,
    samples: Option<&Path>,
    changes: Option<&Path>,
    json: bool,
    io: Io,
) -> anyhow::Result<ExitCode> {
    use hhrisk_monitor::diff::{diff, snapshot};
    let model = load_model(model_path)?;
    let bands = load_bands(&model, thresholds)?;
    let read = |dir: &Path| -> anyhow::Result<Roster> {
        let r = Roster::read(&model, dir, &io.read_options(false))?;
        if !r.issues.is_empty() {
            let (dir, problems, refused) = (dir.display(), r.issues.len(), r.rejected_households());
            eprintln!(
                "{}",
                crate::tr!(
                    "{dir}: {problems} problems, {refused} households refused and left out of the diff (hhrisk \
                     validate lists them)",
                    "{dir}：{problems} 处问题，{refused} 户被拒收，不参加比较（hhrisk validate 可列出这些问题）"
                )
            );
        }
        Ok(r)
    };
    let (old_states, new_states) =
        (snapshot(&model, &bands, &read(old)?), snapshot(&model, &bands, &read(new)?));
    let reference = match samples {
        Some(dir) => {
            let s = hhrisk_calibrate::Samples::load(&model, dir, io.encoding)?;
            let mut cols = vec![s.score.to_vec()];
            for c in 0..model.categories.len() {
                cols.push(
                    (0..s.len()).map(|i| s.matrix.category_totals[[i, c]] / s.matrix.members[i]).collect(),
                );
            }
            Some((format!("the calibration sample {}", dir.display()), cols))
        }
        None => None,
    };
    let exit_days = model.parameters.iter().find(|p| p.name == "gradual_exit_days").map(|p| p.value);
    let d = diff(
        &model,
        &old_states,
        &new_states,
        reference.as_ref().map(|(n, c)| (n.as_str(), c.clone())),
        exit_days,
    );
    if let Some(path) = changes {
        d.changes_table().write(path, hhrisk_tables::Format::Csv, "changes", io.bom)?;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&d)?);
    } else {
        print!("{}", d.to_text(old, new));
    }
    for w in &d.warnings {
        eprintln!("{}", crate::tr!("warning: {w}", "警告：{w}"));
    }
    Ok(ExitCode::SUCCESS)
}
