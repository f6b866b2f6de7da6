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
    /// Headers and values in Chinese, for a Chinese office: fixed columns
    /// from [`header_zh`], the model's columns by their `label` and
    /// category values by their `value_labels`, bands by their labels
    /// (off: the keys and values as the files have them).
    pub zh: bool,
}

/// The Chinese header of a fixed column of the lists (`household_id` →
/// `户编号`), the key itself for any other. `hhrisk feedback` reads returns
/// under either name.
pub fn header_zh(key: &str) -> &str {
    match key {
        "household_id" => "户编号",
        "village" => "村（社区）",
        "alert_level" => "预警级别",
        "score" => "分值",
        "role" => "牵头或协办",
        "items" => "推送指标",
        "person_id" => "身份证号",
        "name" => "姓名",
        "verified_need" => "核实需要帮扶（1是0否）",
        "assistance" => "帮扶措施",
        "amount" => "帮扶金额（元）",
        "note" => "备注",
        "departments" => "派往部门",
        "lead_department" => "牵头部门",
        "items_by_department" => "各部门推送指标",
        "alert_kind" => "预警类型",
        "masking" => "脱敏说明",
        "enrolled_in" => "已纳入类别",
        "signs_of_means" => "经济状况疑点",
        "department" => "部门",
        _ => key,
    }
}

/// Kinds of assistance as a Chinese office writes them, and their keys in
/// outcomes (`hhrisk feedback` reads either).
pub const ASSISTANCE_ZH: [(&str, &str); 7] = [
    ("education", "教育资助"),
    ("medical", "医疗救助"),
    ("employment", "就业帮扶"),
    ("temporary", "临时救助"),
    ("charity", "慈善帮扶"),
    ("dibao", "纳入低保"),
    ("housing", "住房保障"),
];

/// Alert kinds in Chinese (`risk` → `风险预警`).
pub fn alert_kind_zh(kind: &str) -> &str {
    match kind {
        "risk" => "风险预警",
        "not_enrolled" => "应纳未纳",
        "check_means" => "疑似错保",
        _ => kind,
    }
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
    /// Department id → households on its list (a list has a row per
    /// member listed, so its rows can be more).
    pub households: BTreeMap<String, usize>,
    /// Department id → households whose case it leads.
    pub leads: BTreeMap<String, usize>,
}

/// Value of the masking column (written only in unmasked lists).
pub fn masking_note(unmasked: bool) -> &'static str {
    if unmasked {
        "UNMASKED: full ID numbers and names (--unmasked)"
    } else {
        "masked"
    }
}

/// What a workbook says once, in a note on its first header cell, about
/// the ID numbers and names it shows.
pub fn masking_header_note(options: DispatchOptions) -> &'static str {
    match (options.unmasked, options.zh) {
        (false, false) => "ID numbers and names are masked.",
        (false, true) => "身份证号和姓名已脱敏。",
        (true, false) => "UNMASKED: full ID numbers and names (--unmasked). Keep this file as the rules on personal data require.",
        (true, true) => "未脱敏：含完整身份证号和姓名（--unmasked）。请按个人信息保护规定保管本文件。",
    }
}

/// What one alerted household adds to the dispatch: a row in the list of
/// each department concerned, and its row of the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct Lines {
    /// Per department, its rows: one per member listed (one when none is).
    departments: Vec<(usize, Vec<Vec<String>>)>,
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
        let zh = options.zh;
        let class_label = |d: usize| {
            not_enrolled.filter(|c| c.department == d).map(|c| match zh {
                false => format!("not_enrolled: {} {} (meets the rule, not enrolled)", c.id, c.name),
                true => format!("应纳未纳：{}（符合认定条件，尚未纳入）", c.name),
            })
        };
        // bands, values and departments as people read them
        let level = || match zh {
            true => model
                .bands
                .levels
                .iter()
                .find(|b| b.name == alert.level)
                .and_then(|b| b.label.clone())
                .unwrap_or_else(|| alert.level.clone()),
            false => alert.level.clone(),
        };
        let value = |c: usize, v: f64| {
            let col = &model.columns[c];
            if zh {
                col.format_value_zh(v)
            } else {
                col.format_value(v)
            }
        };
        let department = |d: usize| {
            let dept = &model.departments[d];
            if zh {
                dept.name.clone()
            } else {
                dept.id.clone()
            }
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
            // one row per member listed: those concerned; every member when
            // none is but the department reads members' columns; else one
            // row for the household, with no member
            let reads_members = self.reads[d]
                .iter()
                .any(|c| fired_reads.contains(c) && model.columns[*c].file == Scope::Member);
            let listed: Vec<Option<usize>> = if !concerned.is_empty() {
                concerned.iter().copied().map(Some).collect()
            } else if reads_members {
                (0..members.len()).map(Some).collect()
            } else {
                vec![None]
            };
            let role = match (Some(d) == lead, zh) {
                (true, false) => "lead",
                (false, false) => "co",
                (true, true) => "牵头",
                (false, true) => "协办",
            };
            let items_text = items
                .iter()
                .map(|&j| format!("{} {}", model.items[j].id, model.items[j].name))
                .chain(class_label(d))
                .collect::<Vec<_>>()
                .join("; ");
            let mut rows = Vec::with_capacity(listed.len());
            for m in listed {
                let mut row = vec![
                    h.id.to_string(),
                    h.village.to_string(),
                    level(),
                    alert.score.clone(),
                    role.to_string(),
                    items_text.clone(),
                    m.map(|m| person(members[m])).unwrap_or_default(),
                    m.map(|m| name_of(members[m])).unwrap_or_default(),
                ];
                for &c in &self.reads[d] {
                    let col = &model.columns[c];
                    row.push(match (fired_reads.contains(&c), col.file, m) {
                        (false, _, _) | (true, Scope::Member, None) => String::new(),
                        (true, Scope::Household, _) => value(c, x.household[col.slot]),
                        (true, Scope::Member, Some(m)) => value(c, x.members[m * x.stride + col.slot]),
                    });
                }
                row.extend(RETURN_COLUMNS.iter().map(|_| String::new()));
                row.push(note.into());
                rows.push(row);
            }
            departments.push((d, rows));
            let ids = items.iter().map(|&j| model.items[j].id.clone());
            let class = not_enrolled.filter(|c| c.department == d).map(|c| format!("not_enrolled:{}", c.id));
            chain_parts.push((d, ids.chain(class).collect::<Vec<_>>().join(",")));
        }
        let kinds: Vec<&str> = score.kinds().collect();
        let enrolled: Vec<String> = model
            .classes
            .iter()
            .filter(|c| c.enrolled.eval(&x, 0))
            .map(|c| if zh { c.name.clone() } else { c.id.clone() })
            .collect();
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
        let kinds_text = if alert.kinds.is_empty() { kinds.join(";") } else { alert.kinds.clone() };
        let kinds_text = match zh {
            true => kinds_text.split(';').map(alert_kind_zh).collect::<Vec<_>>().join(";"),
            false => kinds_text,
        };
        let chain = vec![
            h.id.to_string(),
            h.village.to_string(),
            level(),
            alert.score.clone(),
            chain_parts.iter().map(|(d, _)| department(*d)).collect::<Vec<_>>().join(";"),
            lead.map(department).unwrap_or_default(),
            chain_parts
                .iter()
                .map(|(d, i)| format!("{}: {i}", department(*d)))
                .collect::<Vec<_>>()
                .join(" | "),
            kinds_text,
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
        let options = self.options;
        let note = masking_note(options.unmasked);
        let header = |keys: &[&str]| -> Vec<String> {
            keys.iter().map(|k| if options.zh { header_zh(k) } else { k }.to_string()).collect()
        };
        let header_note = Some(masking_header_note(options).to_string());
        let assistance: Vec<String> = match options.zh {
            true => ASSISTANCE_ZH.iter().map(|(_, zh)| zh.to_string()).collect(),
            false => ASSISTANCE_KINDS.iter().map(|s| s.to_string()).collect(),
        };
        let mut tables: Vec<OutTable> = self
            .reads
            .iter()
            .map(|cols| {
                let mut head = header(&[
                    "household_id",
                    "village",
                    "alert_level",
                    "score",
                    "role",
                    "items",
                    "person_id",
                    "name",
                ]);
                head.extend(cols.iter().map(|&c| {
                    let col = &model.columns[c];
                    if options.zh { col.label_zh() } else { &col.name }.to_string()
                }));
                let returns = head.len();
                head.extend(header(&RETURN_COLUMNS));
                head.extend(header(&["masking"]));
                let choices = vec![
                    (returns, ["1", "0"].iter().map(|s| s.to_string()).collect(), true),
                    (returns + 1, assistance.clone(), false),
                ];
                OutTable { header: head, rows: Vec::new(), choices, note: header_note.clone() }
            })
            .collect();
        let mut chain = OutTable {
            header: header(&[
                "household_id",
                "village",
                "alert_level",
                "score",
                "departments",
                "lead_department",
                "items_by_department",
                "alert_kind",
                "masking",
            ]),
            note: header_note.clone(),
            ..OutTable::default()
        };
        let mut check_means = OutTable {
            header: header(&[
                "household_id",
                "village",
                "enrolled_in",
                "signs_of_means",
                "verified_need",
                "note",
                "masking",
            ]),
            rows: Vec::new(),
            choices: vec![(4, vec!["1".into(), "0".into()], true)],
            note: header_note,
        };
        let mut not_in_roster = Vec::new();
        let (mut households, mut leads) =
            (vec![0; model.departments.len()], vec![0; model.departments.len()]);
        for (alert, lines) in alerts.iter().zip(lines) {
            match lines {
                Some(Lines { departments, chain: row, check_means: check, referred, .. }) => {
                    for (d, rows) in departments {
                        households[d] += 1;
                        leads[d] += usize::from(referred.first() == Some(&d));
                        tables[d].rows.extend(rows);
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
                        match options.zh {
                            false => "not in the roster (or refused by it): no department".into(),
                            true => "名册中没有此户（或名册拒收了此户）：未派往任何部门".into(),
                        },
                        alert.kinds.clone(),
                        note.into(),
                    ]);
                }
            }
        }
        let departments = model.departments.iter().zip(tables).map(|(d, t)| (d.id.clone(), t)).collect();
        let by_id = |counts: Vec<usize>| -> BTreeMap<String, usize> {
            model
                .departments
                .iter()
                .zip(counts)
                .filter(|(_, n)| *n > 0)
                .map(|(d, n)| (d.id.clone(), n))
                .collect()
        };
        let (households, leads) = (by_id(households), by_id(leads));
        let mut d = Dispatch { departments, chain, check_means, not_in_roster, households, leads };
        if !self.options.unmasked {
            // masked is the rule: a column repeating it on every row says
            // nothing; unmasked CSV lists keep it, a warning on every row
            d.drop_masking_column();
        }
        d
    }
}

impl Dispatch {
    /// Drops the column that says on every row whether ids are masked:
    /// for masked lists, and for workbooks, whose header note says it once.
    pub fn drop_masking_column(&mut self) {
        for table in self.departments.values_mut().chain([&mut self.chain, &mut self.check_means]) {
            if table.header.last().is_some_and(|h| h == "masking" || h == header_zh("masking")) {
                table.header.pop();
                table.rows.iter_mut().for_each(|r| {
                    r.pop();
                });
            }
        }
    }
}
