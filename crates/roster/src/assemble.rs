//! A roster read whole: both files read into numbers, then members joined
//! to their households, with the join rules and their messages.

use std::collections::HashMap;
use std::path::Path;

use crate::privacy::mask_id;
use hhrisk_model::expr::Scope;
use hhrisk_model::Model;

use crate::layout::*;
use crate::roster::*;

impl Table {
    pub(crate) fn read(
        model: &Model,
        path: &Path,
        sheet: &str,
        file: Scope,
        options: &ReadOptions,
    ) -> Result<Table, RosterError> {
        let mut reader = RowReader::open(model, path, sheet, file, options)?;
        let mut table = Table {
            path: reader.layout.path.clone(),
            stride: reader.stride(),
            values: Vec::new(),
            rows: Vec::new(),
            issues: Vec::new(),
        };
        while let Some(k) = reader.next(&mut table.values, &mut table.issues)? {
            table.rows.push(Row { line: k.line, household: k.household, key: k.key, ok: k.ok });
        }
        Ok(table)
    }
}

/// Names another delimiter when the header looks split by one.
/// A text with letters in lower case and full-width forms (`Ｈ００１`, as
/// Chinese input methods type them) made ASCII: two ids or names that fold
/// alike but differ are most likely one typed two ways.
pub fn fold_id(text: &str) -> std::borrow::Cow<'_, str> {
    // the common case, ASCII without a lower-case letter, is its own fold
    if text.bytes().all(|b| b < 0x80 && !b.is_ascii_lowercase()) {
        return text.into();
    }
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        })
        .flat_map(char::to_uppercase)
        .collect::<String>()
        .into()
}

pub(crate) fn delimiter_hint(names: &[String]) -> String {
    let joined = names.join(",");
    match [';', '\t', '|'].into_iter().find(|d| joined.contains(*d)) {
        Some(d) => format!(
            ". The header seems to be separated by {}: save the file as comma-separated CSV",
            if d == '\t' { "tabs".to_string() } else { format!("`{d}`") }
        ),
        None => String::new(),
    }
}

pub(crate) fn not_utf8() -> String {
    "the text is not readable in the file's encoding (UTF-8, or GBK detected); pass --encoding gbk if the file \
     is GBK, or save it as CSV UTF-8"
        .to_string()
}

/// Longest row accepted, in bytes: a roster row is a few hundred bytes; a
/// row over this is a broken quote or not a roster.
pub const MAX_ROW_BYTES: usize = 1 << 20;

/// Most columns a header may have.
pub const MAX_COLUMNS: usize = 10_000;

pub(crate) fn assemble(
    dir: &Path,
    mut households: Table,
    mut members: Table,
    options: &ReadOptions,
) -> Roster {
    let mut issues = Vec::new();
    let show = |k: &str| {
        if options.unmasked {
            k.to_string()
        } else {
            mask_id(k)
        }
    };

    // Duplicate keys: every row carrying the key is refused, since which
    // one is right cannot be told.
    let mut by_id: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, row) in households.rows.iter().enumerate() {
        if !row.household.is_empty() {
            by_id.entry(&row.household).or_default().push(i);
        }
    }
    let mut refused_ids: Vec<String> = Vec::new();
    for (id, rows) in &by_id {
        if rows.len() > 1 {
            let lines: Vec<String> = rows.iter().map(|&r| households.rows[r].line.to_string()).collect();
            for &r in rows {
                issues.push(Issue::of_household(
                    &households.path,
                    households.rows[r].line,
                    id,
                    format!(
                        "household_id {id} appears on lines {}; keep one row per household",
                        lines.join(", ")
                    ),
                ));
            }
            refused_ids.push(id.to_string());
        }
    }
    // Household ids that differ only by letter case or full-width letters:
    // most likely one household written two ways; refused like repeats.
    let mut by_fold: HashMap<std::borrow::Cow<'_, str>, Vec<&str>> = HashMap::new();
    for id in by_id.keys() {
        by_fold.entry(fold_id(id)).or_default().push(id);
    }
    for ids in by_fold.values().filter(|ids| ids.len() > 1) {
        let mut ids = ids.clone();
        ids.sort_unstable();
        let listed: Vec<String> = ids
            .iter()
            .map(|id| {
                let lines: Vec<String> =
                    by_id[id].iter().map(|&r| households.rows[r].line.to_string()).collect();
                format!("{id} (line {})", lines.join(", "))
            })
            .collect();
        for id in &ids {
            for &r in &by_id[id] {
                issues.push(Issue::of_household(
                    &households.path,
                    households.rows[r].line,
                    id,
                    format!(
                        "household_ids {} differ only by letter case or full-width letters: most likely one \
                         household written two ways; make them the same, or clearly different",
                        listed.join(" and ")
                    ),
                ));
            }
            refused_ids.push(id.to_string());
        }
    }
    // an ID number with `x` and with `X` is one person
    let mut by_person: HashMap<std::borrow::Cow<'_, str>, Vec<usize>> = HashMap::new();
    for (i, row) in members.rows.iter().enumerate() {
        if !row.key.is_empty() {
            by_person.entry(crate::privacy::person_key(&row.key)).or_default().push(i);
        }
    }
    let mut bad_member = vec![false; members.rows.len()];
    for (person, rows) in &by_person {
        if rows.len() > 1 {
            let lines: Vec<String> = rows.iter().map(|&r| members.rows[r].line.to_string()).collect();
            for &r in rows {
                bad_member[r] = true;
                issues.push(Issue {
                    person_id: Some(show(person)),
                    ..Issue::of_row(
                        &members.path,
                        members.rows[r].line,
                        &members.rows[r].household,
                        format!(
                            "person_id {} appears on lines {}; a person lives in one household only",
                            show(person),
                            lines.join(", ")
                        ),
                    )
                });
            }
        }
    }
    drop(by_person);
    for (i, row) in members.rows.iter().enumerate() {
        bad_member[i] |= !row.ok;
    }

    // Join members to households, ids as written; an id that matches
    // only once folded is named in the message.
    let folded: HashMap<String, &str> = by_id.keys().map(|id| (fold_id(id).into_owned(), *id)).collect();
    let mut members_of: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, row) in members.rows.iter().enumerate() {
        if by_id.contains_key(row.household.as_str()) {
            members_of.entry(&row.household).or_default().push(i);
        } else if !row.household.is_empty() {
            issues.push(Issue {
                person_id: Some(show(&row.key)),
                ..Issue::of_row(
                &members.path,
                row.line,
                &row.household,
                match folded.get(fold_id(&row.household).as_ref()) {
                    Some(near) => format!(
                        "household {} is not in households.csv, which has {near}: they differ only by letter case \
                         or full-width letters, and ids must match exactly; write {near}",
                        row.household
                    ),
                    None => format!(
                        "household {} is not in households.csv; add the household, or correct this member's \
                         household_id",
                        row.household
                    ),
                },
            )
            });
        }
    }

    let mut refused_households: HashMap<&str, bool> = HashMap::new();
    for id in &refused_ids {
        refused_households.insert(id, true);
    }
    // A member row without a household_id, below rows of a household (as
    // a workbook's merged cells leave them): it is most likely that
    // household's member, so the household is refused rather than scored
    // without it.
    let mut above: Option<(&str, u64)> = None;
    for row in &members.rows {
        if !row.household.is_empty() {
            above = Some((&row.household, row.line));
            continue;
        }
        let Some((id, line)) = above else { continue };
        if !by_id.contains_key(id) {
            continue;
        }
        refused_households.insert(id, true);
        issues.push(Issue {
            person_id: (!row.key.is_empty()).then(|| show(&row.key)),
            ..Issue::of_row(
            &members.path,
            row.line,
            id,
            format!(
                "this member row has no household_id and follows household {id} (line {line}), as merged cells \
                 leave it: household {id} is refused rather than scored without this member; write the \
                 household_id on every member row"
            ),
        )
        });
    }
    for (i, bad) in bad_member.iter().enumerate() {
        if *bad {
            refused_households.insert(&members.rows[i].household, true);
        }
    }

    let mut accepted = Vec::new();
    let mut household_values = Vec::new();
    let mut member_values = Vec::new();
    let mut person_ids = Vec::new();
    let mut member_lines = Vec::new();
    for (i, row) in households.rows.iter().enumerate() {
        let list = members_of.get(row.household.as_str());
        if list.is_none()
            && !row.household.is_empty()
            && !refused_households.contains_key(row.household.as_str())
        {
            issues.push(Issue::no_members(&households.path, row.line, &row.household));
            continue;
        }
        if !row.ok || refused_households.contains_key(row.household.as_str()) {
            continue;
        }
        let Some(list) = list else { continue };
        let start = person_ids.len();
        for &m in list {
            let from = m * members.stride;
            member_values.extend_from_slice(&members.values[from..from + members.stride]);
            person_ids.push(members.rows[m].key.clone());
            member_lines.push(members.rows[m].line);
        }
        accepted.push(Household {
            id: row.household.clone(),
            village: row.key.clone(),
            line: row.line,
            values: household_values.len(),
            members: start..person_ids.len(),
        });
        household_values
            .extend_from_slice(&households.values[i * households.stride..(i + 1) * households.stride]);
    }

    // Tie each issue to the household row it refuses.
    let line_of: HashMap<&str, u64> =
        households.rows.iter().map(|r| (r.household.as_str(), r.line)).collect();
    let mut all = std::mem::take(&mut households.issues);
    all.append(&mut members.issues);
    all.append(&mut issues);
    for issue in &mut all {
        if issue.household_line.is_none() {
            issue.household_line = match (&issue.household_id, issue.file == households.path) {
                (_, true) => Some(issue.line),
                (Some(id), false) => line_of.get(id.as_str()).copied(),
                (None, false) => None,
            };
        }
    }
    all.sort_by(|a, b| {
        (a.file != households.path, a.line, a.column.as_ref().map(|c| c.0)).cmp(&(
            b.file != households.path,
            b.line,
            b.column.as_ref().map(|c| c.0),
        ))
    });

    Roster {
        dir: dir.to_path_buf(),
        households: accepted,
        issues: all,
        household_rows: households.rows.len(),
        member_rows: members.rows.len(),
        household_values,
        household_stride: households.stride,
        member_values,
        member_stride: members.stride,
        person_ids,
        member_lines,
    }
}
