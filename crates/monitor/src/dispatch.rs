//! Dispatch (派单): one list per responsible department, and one chain file
//! with every department each household was sent to (一户一条救助链).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use hhrisk_model::expr::Scope;
use hhrisk_model::{Model, Per};
use hhrisk_roster::privacy::{mask_id, mask_name};
use hhrisk_roster::HouseholdView;
use hhrisk_score::Scorer;

use hhrisk_tables::OutTable;

/// An alerted household, as the scores file says.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// `household_id`.
    pub household_id: String,
    /// `alert_level`.
    pub level: String,
    /// `score` (or an older file's `per_capita_score`), as written.
    pub score: String,
    /// `alert_kind` as written (`risk;not_enrolled` …); empty in a file
    /// from before alert kinds, where every row with a level is a risk.
    pub kinds: String,
}

/// Why the alerts of a scores file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AlertsError {
    /// The file could not be read.
    #[error(transparent)]
    Table(#[from] hhrisk_tables::TableError),
    /// Its header lacks a column `hhrisk score` writes.
    #[error("{origin}: line 1 (header): needs `household_id` and `alert_level`, as `hhrisk score` writes")]
    Columns {
        /// The file.
        origin: String,
    },
}

/// Reads the alerted households of a scores file (only those rows, and
/// only the columns used).
pub fn read_alerts(
    scores: &std::path::Path,
    encoding: hhrisk_tables::Encoding,
) -> Result<Vec<Alert>, AlertsError> {
    let wanted = ["household_id", "alert_level", "score", "per_capita_score", "alert_kind"];
    let t = hhrisk_tables::TextTable::read_columns(scores, "scores", encoding, &wanted, |header, fields| {
        // a band reached, or another alert kind (not enrolled, check means)
        let filled = |name: &str| {
            let at = header.iter().position(|h| h == name);
            at.and_then(|l| fields.get(l)).is_some_and(|l| !l.is_empty())
        };
        filled("alert_level") || filled("alert_kind")
    })?;
    let (Some(id), Some(l)) = (t.column("household_id"), t.column("alert_level")) else {
        return Err(AlertsError::Columns { origin: t.origin.to_string() });
    };
    // `score` (bands apply to it); an older file has only `per_capita_score`
    let score = t.column("score").or(t.column("per_capita_score"));
    let kinds = t.column("alert_kind");
    // only rows with an alert were kept
    Ok(t.rows
        .iter()
        .map(|(_, r)| Alert {
            household_id: hhrisk_tables::restore(&r[id]).into_owned(),
            level: r[l].clone(),
            score: score.and_then(|s| r.get(s)).cloned().unwrap_or_default(),
            kinds: kinds.and_then(|k| r.get(k)).cloned().unwrap_or_default(),
        })
        .collect())
}

/// Names of the members of the alerted households (`alerted` keyed by
/// household id), from the roster's members table (`name` column), by
/// person id.
pub fn read_names<V>(
    roster: &std::path::Path,
    alerted: &HashMap<&str, V>,
    encoding: hhrisk_tables::Encoding,
) -> Result<HashMap<String, String>, hhrisk_tables::TableError> {
    let path =
        if hhrisk_tables::is_workbook(roster) { roster.to_path_buf() } else { roster.join("members.csv") };
    let wanted = ["household_id", "person_id", "name"];
    let t = hhrisk_tables::TextTable::read_columns(&path, "members", encoding, &wanted, |header, fields| {
        let household = header.iter().position(|h| h == "household_id");
        household.and_then(|h| fields.get(h)).is_some_and(|h| alerted.contains_key(h.as_str()))
    })?;
    Ok(match (t.column("person_id"), t.column("name")) {
        (Some(p), Some(n)) => {
            t.rows.iter().map(|(_, r)| (r[p].clone(), r.get(n).cloned().unwrap_or_default())).collect()
        }
        _ => Default::default(),
    })
}

/// What to put in the lists.
#[derive(Debug, Clone, Copy, Default)]
pub struct DispatchOptions {
    /// Write ID numbers and names in full (off by default).
    pub unmasked: bool,
}

/// The dispatch: a table per department and the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct Dispatch {
    /// Department id → its list.
    pub departments: BTreeMap<String, OutTable>,
    /// Per household: every department it was sent to.
    pub chain: OutTable,
    /// Enrolled households with a sign of means (a gate item fired), for
    /// civil affairs to verify (疑似错保).
    pub check_means: OutTable,
    /// Alerted households the roster does not have or refused (listed in
    /// the chain with no department, never dropped).
    pub not_in_roster: Vec<String>,
}

/// Value of the masking column (written only in unmasked lists).
pub fn masking_note(unmasked: bool) -> &'static str {
    if unmasked {
        "UNMASKED: full ID numbers and names (--unmasked)"
    } else {
        "masked"
    }
}

/// What one alerted household adds to the dispatch: a row in the list of
/// each department concerned, and its row of the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct Lines {
    departments: Vec<(usize, Vec<String>)>,
    chain: Vec<String>,
    check_means: Option<Vec<String>>,
    /// The departments it is referred to, the lead first.
    referred: Vec<usize>,
    /// What was pushed: main item ids, and `not_enrolled:<class>`.
    pushed: Vec<String>,
}

impl Lines {
    /// The departments the household is referred to, the lead first
    /// (indexes into the model's departments).
    pub fn referred(&self) -> &[usize] {
        &self.referred
    }

    /// What was pushed to them: main item ids and `not_enrolled:<class>`.
    pub fn pushed(&self) -> &[String] {
        &self.pushed
    }

    /// Keeps the household off the lists of the departments `already`
    /// says its open case went to (in the ledger), saying so in its chain
    /// row; a department new to the case still gets it.
    pub fn hold(&mut self, already: impl Fn(usize) -> bool, why: &str) {
        let before = self.departments.len();
        self.departments.retain(|(d, _)| !already(*d));
        if self.departments.len() < before {
            if let Some(cell) = self.chain.get_mut(6) {
                *cell = format!("{why} ({cell})");
            }
        }
    }

    /// The household's village.
    pub fn village(&self) -> &str {
        self.chain.get(1).map_or("", String::as_str)
    }
}

/// Builds the dispatch household by household, so that a roster can be
/// streamed past it (`dispatch` does the same from a roster read whole).
///
/// What is pushed to a department is what the seed says is pushed: the
/// household's *main* indicators (`main = true`) that fired with positive
/// points, and any trigger item that fired (it raises the alert on its
/// own); a model that marks no item main pushes every positive item. The
/// department of the largest such contribution leads the case (主责), the
/// others assist (协办). A household alerted without any (its score made
/// of items that are not main) goes to the department of its largest
/// positive item, so that no alert goes nowhere.
#[derive(Debug, Clone)]
pub struct Dispatcher<'m> {
    model: &'m Model,
    scorer: Scorer<'m>,
    /// Each department's columns: the inputs its items read, in model order.
    reads: Vec<BTreeSet<usize>>,
    /// Whether the model marks any item main.
    any_main: bool,
    options: DispatchOptions,
}

/// Columns a department fills in and returns (`hhrisk feedback` reads
/// them back): its finding, what it gave, how much, a note.
pub const RETURN_COLUMNS: [&str; 4] = ["verified_need", "assistance", "amount", "note"];

/// Kinds of assistance offered in the returns' drop-down list (as
/// Xiaochang counts them); others may be typed, `;`-separated.
pub const ASSISTANCE_KINDS: [&str; 7] =
    ["education", "medical", "employment", "temporary", "charity", "dibao", "housing"];

impl<'m> Dispatcher<'m> {
    /// A dispatcher for a model's items and departments.
    pub fn new(model: &'m Model, options: DispatchOptions) -> Self {
        let mut reads: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); model.departments.len()];
        for item in &model.items {
            reads[item.department].extend(item.reads.iter().copied());
        }
        let any_main = model.items.iter().any(|i| i.main);
        Dispatcher { model, scorer: Scorer::new(model, &model.bands), reads, any_main, options }
    }

    /// The rows an alerted household adds.
    pub fn household(&self, alert: &Alert, h: HouseholdView, names: &HashMap<String, String>) -> Lines {
        let (model, options) = (self.model, self.options);
        let person = |id: &str| if options.unmasked { id.to_string() } else { mask_id(id) };
        let name_of = |id: &str| {
            let n = names.get(id).map_or("", String::as_str);
            if options.unmasked {
                n.to_string()
            } else {
                mask_name(n)
            }
        };
        let note = masking_note(options.unmasked);
        let x = h.inputs;
        let score = self.scorer.score(&x);
        let members = h.members;
        // department → (its pushed items, their points)
        let mut by_department: BTreeMap<usize, (Vec<usize>, f64)> = BTreeMap::new();
        let pushed = |hit: &&hhrisk_score::Hit| {
            let item = &model.items[hit.item];
            (hit.points > 0.0 && (item.main || !self.any_main)) || item.trigger
        };
        let risk = !alert.level.is_empty();
        for hit in score.hits.iter().filter(pushed).filter(|_| risk) {
            let entry = by_department.entry(model.items[hit.item].department).or_default();
            entry.0.push(hit.item);
            entry.1 += hit.points.max(0.0);
        }
        if by_department.is_empty() && risk {
            // no main item: the largest positive one leads alone
            let largest =
                score.hits.iter().filter(|h| h.points > 0.0).max_by(|a, b| a.points.total_cmp(&b.points));
            if let Some(hit) = largest {
                by_department.insert(model.items[hit.item].department, (vec![hit.item], hit.points));
            }
        }
        // the lead: the largest contribution, the earlier department on a
        // tie; for a household alerted only as not enrolled, the class's
        let not_enrolled = score.not_enrolled.map(|c| &model.classes[c]);
        if let Some(class) = not_enrolled {
            by_department.entry(class.department).or_default();
        }
        let lead =
            by_department.iter().max_by(|a, b| a.1 .1.total_cmp(&b.1 .1).then(b.0.cmp(a.0))).map(|(&d, _)| d);
        let class_label = |d: usize| {
            not_enrolled
                .filter(|c| c.department == d)
                .map(|c| format!("not_enrolled: {} {} (meets the rule, not enrolled)", c.id, c.name))
        };
        let mut chain_parts = Vec::new();
        let mut departments = Vec::new();
        for (&d, (items, _)) in &by_department {
            // members concerned: those matching the department's per-member items
            let mut concerned: BTreeSet<usize> = BTreeSet::new();
            for &j in items {
                if model.items[j].per == Per::Member {
                    concerned.extend((0..members.len()).filter(|&m| model.items[j].condition.eval(&x, m)));
                }
            }
            let fired_reads: BTreeSet<usize> =
                items.iter().flat_map(|&j| model.items[j].reads.iter().copied()).collect();
            let mut row = vec![
                h.id.to_string(),
                h.village.to_string(),
                alert.level.clone(),
                alert.score.clone(),
                if Some(d) == lead { "lead" } else { "co" }.to_string(),
                items
                    .iter()
                    .map(|&j| format!("{} {}", model.items[j].id, model.items[j].name))
                    .chain(class_label(d))
                    .collect::<Vec<_>>()
                    .join("; "),
                concerned
                    .iter()
                    .map(|&m| format!("{} {}", person(members[m]), name_of(members[m])))
                    .collect::<Vec<_>>()
                    .join("; "),
            ];
            for &c in &self.reads[d] {
                let col = &model.columns[c];
                row.push(if !fired_reads.contains(&c) {
                    String::new()
                } else {
                    match col.file {
                        Scope::Household => col.format_value(x.household[col.slot]),
                        Scope::Member => {
                            let shown: Vec<usize> = if concerned.is_empty() {
                                (0..members.len()).collect()
                            } else {
                                concerned.iter().copied().collect()
                            };
                            shown
                                .iter()
                                .map(|&m| col.format_value(x.members[m * x.stride + col.slot]))
                                .collect::<Vec<_>>()
                                .join("; ")
                        }
                    }
                });
            }
            row.extend(RETURN_COLUMNS.iter().map(|_| String::new()));
            row.push(note.into());
            departments.push((d, row));
            let ids = items.iter().map(|&j| model.items[j].id.clone());
            let class = not_enrolled.filter(|c| c.department == d).map(|c| format!("not_enrolled:{}", c.id));
            chain_parts.push((d, ids.chain(class).collect::<Vec<_>>().join(",")));
        }
        let kinds: Vec<&str> = score.kinds().collect();
        let enrolled: Vec<&str> =
            model.classes.iter().filter(|c| c.enrolled.eval(&x, 0)).map(|c| c.id.as_str()).collect();
        let check_means = score.check_means.then(|| {
            let gates: Vec<String> = score
                .hits
                .iter()
                .filter(|hit| model.items[hit.item].gate)
                .map(|hit| format!("{} {}", model.items[hit.item].id, model.items[hit.item].name))
                .collect();
            vec![
                h.id.to_string(),
                h.village.to_string(),
                enrolled.join(";"),
                gates.join("; "),
                String::new(),
                String::new(),
                note.into(),
            ]
        });
        let chain = vec![
            h.id.to_string(),
            h.village.to_string(),
            alert.level.clone(),
            alert.score.clone(),
            chain_parts.iter().map(|(d, _)| model.departments[*d].id.clone()).collect::<Vec<_>>().join(";"),
            lead.map(|d| model.departments[d].id.clone()).unwrap_or_default(),
            chain_parts
                .iter()
                .map(|(d, i)| format!("{}: {i}", model.departments[*d].id))
                .collect::<Vec<_>>()
                .join(" | "),
            if alert.kinds.is_empty() { kinds.join(";") } else { alert.kinds.clone() },
            note.into(),
        ];
        let mut referred: Vec<usize> = by_department.keys().copied().collect();
        referred.sort_by_key(|&d| Some(d) != lead);
        let pushed = by_department
            .values()
            .flat_map(|(items, _)| items.iter().map(|&j| model.items[j].id.clone()))
            .chain(not_enrolled.map(|c| format!("not_enrolled:{}", c.id)))
            .collect();
        Lines { departments, chain, check_means, referred, pushed }
    }

    /// The dispatch, from each alert's rows in the order of the alerts
    /// (`None`: the roster does not have the household, or refused it).
    pub fn assemble(&self, alerts: &[Alert], lines: Vec<Option<Lines>>) -> Dispatch {
        let model = self.model;
        let note = masking_note(self.options.unmasked);
        let mut tables: Vec<OutTable> = self
            .reads
            .iter()
            .map(|cols| {
                let mut header: Vec<String> =
                    ["household_id", "village", "alert_level", "score", "role", "items", "members"]
                        .iter()
                        .map(|s| s.to_string())
                        .collect();
                header.extend(cols.iter().map(|&c| model.columns[c].name.clone()));
                let returns = header.len();
                header.extend(RETURN_COLUMNS.iter().map(|s| s.to_string()));
                header.push("masking".into());
                let choices = vec![
                    (returns, ["1", "0"].iter().map(|s| s.to_string()).collect(), true),
                    (returns + 1, ASSISTANCE_KINDS.iter().map(|s| s.to_string()).collect(), false),
                ];
                OutTable { header, rows: Vec::new(), choices }
            })
            .collect();
        let mut chain = OutTable {
            header: [
                "household_id",
                "village",
                "alert_level",
                "score",
                "departments",
                "lead_department",
                "items_by_department",
                "alert_kind",
                "masking",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            rows: Vec::new(),
            ..OutTable::default()
        };
        let mut check_means = OutTable {
            header: [
                "household_id",
                "village",
                "enrolled_in",
                "signs_of_means",
                "verified_need",
                "note",
                "masking",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            rows: Vec::new(),
            choices: vec![(4, vec!["1".into(), "0".into()], true)],
        };
        let mut not_in_roster = Vec::new();
        for (alert, lines) in alerts.iter().zip(lines) {
            match lines {
                Some(Lines { departments, chain: row, check_means: check, .. }) => {
                    for (d, row) in departments {
                        tables[d].rows.push(row);
                    }
                    chain.rows.push(row);
                    check_means.rows.extend(check);
                }
                None => {
                    not_in_roster.push(alert.household_id.clone());
                    chain.rows.push(vec![
                        alert.household_id.clone(),
                        String::new(),
                        alert.level.clone(),
                        alert.score.clone(),
                        String::new(),
                        String::new(),
                        "not in the roster (or refused by it): no department".into(),
                        alert.kinds.clone(),
                        note.into(),
                    ]);
                }
            }
        }
        let departments = model.departments.iter().zip(tables).map(|(d, t)| (d.id.clone(), t)).collect();
        let mut d = Dispatch { departments, chain, check_means, not_in_roster };
        if !self.options.unmasked {
            // masked is the rule: a column repeating it on every row says
            // nothing; unmasked lists keep it, a warning on every row
            for table in d.departments.values_mut().chain([&mut d.chain, &mut d.check_means]) {
                if table.header.last().is_some_and(|h| h == "masking") {
                    table.header.pop();
                    table.rows.iter_mut().for_each(|r| {
                        r.pop();
                    });
                }
            }
        }
        d
    }
}
