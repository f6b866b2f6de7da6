//! Reading the ledger: cases with filters, the overdue list, a household's
//! chain across batches.

use rusqlite::params;

use crate::{day, Ledger, LedgerError};

/// Which cases to list.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// Only cases referred to this department.
    pub department: Option<String>,
    /// Only this village's.
    pub village: Option<String>,
    /// Only cases alerted in this batch.
    pub batch: Option<String>,
    /// Only cases with an alert of this kind.
    pub kind: Option<String>,
    /// Only cases with a referral past its due date and unanswered.
    pub overdue: bool,
    /// Closed cases too.
    pub all: bool,
}

/// One referral of a case, as listed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReferralView {
    /// The department.
    pub department: String,
    /// `lead` (首问负责) or `co`.
    pub role: String,
    /// The batch it was sent with.
    pub batch: String,
    /// When it was sent.
    pub sent: String,
    /// When the answer is due.
    pub due: String,
    /// When the department answered (its latest answer), if it has.
    pub answered: Option<String>,
    /// What it found, if it answered.
    pub verified_need: Option<bool>,
    /// Assistance it gave (`;`-separated kinds).
    pub assistance: String,
    /// Amount it gave, in yuan.
    pub amount: Option<f64>,
    /// Whether its answer came after the due date.
    pub late: bool,
    /// Days past the due date without an answer (0 when answered or not
    /// yet due).
    pub days_overdue: i64,
}

/// A case, as listed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CaseView {
    /// The household.
    pub household_id: String,
    /// Its village.
    pub village: String,
    /// The batch that opened the case.
    pub batch: String,
    /// When it opened.
    pub opened: String,
    /// The department that owns it (the first it was sent to).
    pub owner: String,
    /// `open` or `closed`.
    pub status: String,
    /// When it closed, and why.
    pub closed: Option<(String, String)>,
    /// Alert kinds of its latest alert.
    pub kinds: String,
    /// Band of its latest alert.
    pub level: String,
    /// Batches that alerted it.
    pub alerts: u64,
    /// Its referrals.
    pub departments: Vec<ReferralView>,
    /// The most days any referral is overdue.
    pub days_overdue: i64,
}

/// One step of a household's chain (一户一条救助链).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChainEntry {
    /// When.
    pub date: String,
    /// `alert`, `referral`, `answer` or `closed`.
    pub what: String,
    /// The batch, department and findings.
    pub detail: String,
}

impl Ledger {
    /// The cases the filter asks for, as of `as_of` (for overdue days),
    /// most overdue first, then by household.
    pub fn cases(&self, filter: &CaseFilter, as_of: &str) -> Result<Vec<CaseView>, LedgerError> {
        let today = day(as_of)?;
        let sql = |source| LedgerError::Sql { path: self.path().to_string(), source };
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT c.id, c.household_id, c.village, b.name, c.opened, c.owner, c.closed, c.close_reason,
                        (SELECT a.kinds FROM alerts a WHERE a.case_id = c.id ORDER BY a.id DESC LIMIT 1),
                        (SELECT a.level FROM alerts a WHERE a.case_id = c.id ORDER BY a.id DESC LIMIT 1),
                        (SELECT count(*) FROM alerts a WHERE a.case_id = c.id)
                 FROM cases c JOIN batches b ON b.id = c.opened_batch
                 WHERE (?1 OR c.closed IS NULL) AND (?2 IS NULL OR c.village = ?2)
                   AND (?3 IS NULL OR EXISTS (SELECT 1 FROM alerts a JOIN batches ab ON ab.id = a.batch
                                              WHERE a.case_id = c.id AND ab.name = ?3))
                   AND (?4 IS NULL OR EXISTS (SELECT 1 FROM alerts a WHERE a.case_id = c.id
                                              AND (';' || a.kinds || ';') LIKE ('%;' || ?4 || ';%')))
                 ORDER BY c.household_id, c.id",
            )
            .map_err(sql)?;
        let rows = stmt
            .query_map(params![filter.all, filter.village, filter.batch, filter.kind], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    CaseView {
                        household_id: r.get(1)?,
                        village: r.get(2)?,
                        batch: r.get(3)?,
                        opened: r.get(4)?,
                        owner: r.get(5)?,
                        status: if r.get::<_, Option<String>>(6)?.is_some() { "closed" } else { "open" }
                            .into(),
                        closed: match (r.get::<_, Option<String>>(6)?, r.get::<_, Option<String>>(7)?) {
                            (Some(d), reason) => Some((d, reason.unwrap_or_default())),
                            _ => None,
                        },
                        kinds: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
                        level: r.get::<_, Option<String>>(9)?.unwrap_or_default(),
                        alerts: r.get::<_, i64>(10)? as u64,
                        departments: Vec::new(),
                        days_overdue: 0,
                    },
                ))
            })
            .map_err(sql)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql)?;
        let mut referrals = conn
            .prepare(
                "SELECT r.department, r.role, b.name, r.sent, r.due,
                        (SELECT a.date FROM answers a WHERE a.referral = r.id ORDER BY a.id DESC LIMIT 1),
                        (SELECT a.verified_need FROM answers a WHERE a.referral = r.id ORDER BY a.id DESC LIMIT 1),
                        (SELECT a.assistance FROM answers a WHERE a.referral = r.id ORDER BY a.id DESC LIMIT 1),
                        (SELECT a.amount FROM answers a WHERE a.referral = r.id ORDER BY a.id DESC LIMIT 1),
                        (SELECT a.late FROM answers a WHERE a.referral = r.id ORDER BY a.id DESC LIMIT 1)
                 FROM referrals r JOIN batches b ON b.id = r.batch WHERE r.case_id = ?1 ORDER BY r.id",
            )
            .map_err(sql)?;
        let mut out = Vec::new();
        for (id, mut case) in rows {
            let list = referrals
                .query_map(params![id], |r| {
                    let answered: Option<String> = r.get(5)?;
                    Ok(ReferralView {
                        department: r.get(0)?,
                        role: r.get(1)?,
                        batch: r.get(2)?,
                        sent: r.get(3)?,
                        due: r.get(4)?,
                        verified_need: r.get::<_, Option<bool>>(6)?,
                        assistance: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
                        amount: r.get(8)?,
                        late: r.get::<_, Option<bool>>(9)?.unwrap_or(false),
                        answered,
                        days_overdue: 0,
                    })
                })
                .map_err(sql)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(sql)?;
            case.departments = list;
            for r in &mut case.departments {
                if r.answered.is_none() && case.closed.is_none() {
                    r.days_overdue = i64::from((today - day(&r.due)?).max(0));
                }
            }
            case.days_overdue = case.departments.iter().map(|r| r.days_overdue).max().unwrap_or(0);
            let wanted_department = filter.department.as_ref().is_none_or(|d| {
                case.departments.iter().any(|r| &r.department == d && (!filter.overdue || r.days_overdue > 0))
            });
            if wanted_department && (!filter.overdue || case.days_overdue > 0) {
                out.push(case);
            }
        }
        out.sort_by(|a, b| b.days_overdue.cmp(&a.days_overdue).then(a.household_id.cmp(&b.household_id)));
        Ok(out)
    }

    /// A household's chain across all its cases and batches, in order.
    pub fn chain(&self, household_id: &str) -> Result<Vec<ChainEntry>, LedgerError> {
        let sql = |source| LedgerError::Sql { path: self.path().to_string(), source };
        // one kind of step: its query (date, id, then what `detail` reads),
        // ranked after the kinds before it on the same day
        let mut entries: Vec<(String, i64, ChainEntry)> = Vec::new();
        let mut steps = |what: &str,
                         rank: i64,
                         query: &str,
                         detail: &dyn Fn(&rusqlite::Row) -> rusqlite::Result<String>|
         -> Result<(), LedgerError> {
            let mut stmt = self.conn().prepare(query).map_err(sql)?;
            let rows = stmt
                .query_map(params![household_id], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, detail(r)?))
                })
                .map_err(sql)?;
            for row in rows {
                let (date, id, detail) = row.map_err(sql)?;
                entries.push((
                    date.clone(),
                    rank * 1_000_000_000 + id,
                    ChainEntry { date, what: what.into(), detail },
                ));
            }
            Ok(())
        };
        steps(
            "alert",
            0,
            "SELECT b.date, a.id, b.name, a.kinds, a.level, a.score, a.items FROM alerts a
             JOIN cases c ON c.id = a.case_id JOIN batches b ON b.id = a.batch WHERE c.household_id = ?1",
            &|r| {
                Ok(format!(
                    "batch {}: {} {} (score {}), items {}",
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?
                ))
            },
        )?;
        steps(
            "referral",
            1,
            "SELECT r.sent, r.id, r.department, r.role, r.due, b.name FROM referrals r
             JOIN cases c ON c.id = r.case_id JOIN batches b ON b.id = r.batch WHERE c.household_id = ?1",
            &|r| {
                Ok(format!(
                    "to {} ({}), due {}, batch {}",
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?
                ))
            },
        )?;
        steps(
            "answer",
            2,
            "SELECT a.date, a.id, r.department, a.verified_need, a.assistance, a.amount, a.late FROM answers a
             JOIN referrals r ON r.id = a.referral JOIN cases c ON c.id = r.case_id WHERE c.household_id = ?1",
            &|r| {
                let assistance: String = r.get(4)?;
                let amount: Option<f64> = r.get(5)?;
                Ok(format!(
                    "{}: {}{}{}{}",
                    r.get::<_, String>(2)?,
                    if r.get::<_, bool>(3)? { "in need" } else { "not in need" },
                    if assistance.is_empty() { String::new() } else { format!(", gave {assistance}") },
                    amount.map(|a| format!(" ({a} yuan)")).unwrap_or_default(),
                    if r.get::<_, bool>(6)? { ", late" } else { "" }
                ))
            },
        )?;
        steps(
            "closed",
            3,
            "SELECT closed, id, close_reason FROM cases WHERE household_id = ?1 AND closed IS NOT NULL",
            &|r| Ok(r.get::<_, Option<String>>(2)?.unwrap_or_default()),
        )?;
        // by date; on one day alerts, then referrals, answers, closings
        entries.sort_by(|a, b| day(&a.0).unwrap_or(0).cmp(&day(&b.0).unwrap_or(0)).then(a.1.cmp(&b.1)));
        Ok(entries.into_iter().map(|(_, _, e)| e).collect())
    }
}

/// How `evaluate --ledger` groups the alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// One group per batch.
    Batch,
    /// One group per calendar quarter of the batches' dates.
    Quarter,
    /// One group per department, from its own answers.
    Department,
    /// One group per village.
    Village,
}

/// What the ledger says of one group of alerts.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Figures {
    /// The group (batch, quarter, department or village).
    pub group: String,
    /// Alerts (a household alerted in a batch; by department: referrals).
    pub alerts: u64,
    /// Of them, answered (verified).
    pub verified: u64,
    /// Of those, found in need.
    pub in_need: u64,
    /// Households helped, by kind of assistance (人次).
    pub assistance: std::collections::BTreeMap<String, u64>,
    /// Amounts given, in yuan.
    pub amount: f64,
    /// Answers recorded.
    pub answers: u64,
    /// Of them, after their due date.
    pub late: u64,
    /// Median days from referral to answer.
    pub median_days_to_answer: Option<f64>,
}

impl Ledger {
    /// Alerts, verification, need, assistance and answer times, grouped.
    /// An alert is verified when any department its case went to has
    /// answered, in need when any found it so (by department: its own
    /// answer).
    pub fn figures(&self, by: By) -> Result<Vec<Figures>, LedgerError> {
        let sql = |source| LedgerError::Sql { path: self.path().to_string(), source };
        let conn = self.conn();
        // per referral: case, batch of the alert's group, department, village,
        // its latest answer (need, assistance, amount, late, days)
        let mut stmt = conn
            .prepare(
                "SELECT c.id, b.name, b.date, r.department, c.village, r.sent,
                        a.date, a.verified_need, a.assistance, a.amount, a.late
                 FROM referrals r JOIN cases c ON c.id = r.case_id JOIN batches b ON b.id = r.batch
                 LEFT JOIN answers a ON a.id = (SELECT max(id) FROM answers WHERE referral = r.id)",
            )
            .map_err(sql)?;
        type Row = (
            i64,
            String,
            String,
            String,
            String,
            String,
            Option<String>,
            Option<bool>,
            Option<String>,
            Option<f64>,
            Option<bool>,
        );
        let rows: Vec<Row> = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                ))
            })
            .map_err(sql)?
            .collect::<Result<_, _>>()
            .map_err(sql)?;
        // alerts: (case, batch) pairs with their village and batch date
        let mut alerts_stmt = conn
            .prepare("SELECT a.case_id, b.name, b.date, c.village FROM alerts a JOIN batches b ON b.id = a.batch JOIN cases c ON c.id = a.case_id")
            .map_err(sql)?;
        let alerts: Vec<(i64, String, String, String)> = alerts_stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(sql)?
            .collect::<Result<_, _>>()
            .map_err(sql)?;
        let quarter = |date: &str| {
            let month: u32 = date.get(5..7).and_then(|m| m.parse().ok()).unwrap_or(1);
            format!("{}-Q{}", date.get(..4).unwrap_or("?"), (month - 1) / 3 + 1)
        };
        let key = |batch: &str, date: &str, department: &str, village: &str| match by {
            By::Batch => batch.to_string(),
            By::Quarter => quarter(date),
            By::Department => department.to_string(),
            By::Village => village.to_string(),
        };
        let mut groups: std::collections::BTreeMap<String, Figures> = Default::default();
        // the case's answers: verified and in need when any department says
        let mut by_case: std::collections::HashMap<i64, (bool, bool, Vec<String>)> = Default::default();
        for r in &rows {
            if r.6.is_some() {
                let e = by_case.entry(r.0).or_default();
                e.0 = true;
                e.1 |= r.7 == Some(true);
                e.2.extend(r.8.iter().flat_map(|a| a.split(';').filter(|k| !k.is_empty()).map(String::from)));
            }
        }
        let mut days: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
        if by == By::Department {
            for r in &rows {
                let g = groups
                    .entry(r.3.clone())
                    .or_insert_with(|| Figures { group: r.3.clone(), ..Figures::default() });
                g.alerts += 1;
                if r.6.is_some() {
                    g.verified += 1;
                    g.in_need += u64::from(r.7 == Some(true));
                    for kind in r.8.iter().flat_map(|a| a.split(';').filter(|k| !k.is_empty())) {
                        *g.assistance.entry(kind.to_string()).or_default() += 1;
                    }
                }
            }
        } else {
            for (case, batch, date, village) in &alerts {
                let k = key(batch, date, "", village);
                let g = groups.entry(k.clone()).or_insert_with(|| Figures { group: k, ..Figures::default() });
                g.alerts += 1;
                if let Some((verified, need, kinds)) = by_case.get(case) {
                    g.verified += u64::from(*verified);
                    g.in_need += u64::from(*need);
                    let mut kinds = kinds.clone();
                    kinds.sort();
                    kinds.dedup();
                    for kind in kinds {
                        *g.assistance.entry(kind).or_default() += 1;
                    }
                }
            }
        }
        for r in &rows {
            let Some(answered) = &r.6 else { continue };
            let k = key(&r.1, &r.2, &r.3, &r.4);
            let g =
                groups.entry(k.clone()).or_insert_with(|| Figures { group: k.clone(), ..Figures::default() });
            g.answers += 1;
            g.late += u64::from(r.10 == Some(true));
            g.amount += r.9.unwrap_or(0.0);
            days.entry(k).or_default().push(f64::from(crate::day(answered)? - crate::day(&r.5)?));
        }
        for (k, mut d) in days {
            d.sort_by(f64::total_cmp);
            let median =
                if d.len() % 2 == 1 { d[d.len() / 2] } else { (d[d.len() / 2 - 1] + d[d.len() / 2]) / 2.0 };
            if let Some(g) = groups.get_mut(&k) {
                g.median_days_to_answer = Some(median);
            }
        }
        Ok(groups.into_values().collect())
    }
}

/// A department's latest answer about a household, as an outcome.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VerifiedOutcome {
    /// The household.
    pub household_id: String,
    /// The department that answered.
    pub department: String,
    /// Whether it found the household in need.
    pub verified_need: bool,
    /// Kinds of assistance given.
    pub assistance: Vec<String>,
    /// The batch the referral came with.
    pub batch: String,
}

impl Ledger {
    /// Every referral's latest answer: the outcomes the ledger verified
    /// (only alerted households were verified).
    pub fn verified_outcomes(&self) -> Result<Vec<VerifiedOutcome>, LedgerError> {
        let sql = |source| LedgerError::Sql { path: self.path().to_string(), source };
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT c.household_id, r.department, a.verified_need, a.assistance, b.name
                 FROM referrals r JOIN cases c ON c.id = r.case_id JOIN batches b ON b.id = r.batch
                 JOIN answers a ON a.id = (SELECT max(id) FROM answers WHERE referral = r.id)
                 ORDER BY c.household_id, r.id",
            )
            .map_err(sql)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(VerifiedOutcome {
                    household_id: r.get(0)?,
                    department: r.get(1)?,
                    verified_need: r.get(2)?,
                    assistance: r
                        .get::<_, String>(3)?
                        .split(';')
                        .filter(|k| !k.is_empty())
                        .map(String::from)
                        .collect(),
                    batch: r.get(4)?,
                })
            })
            .map_err(sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)
    }
}
