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
        let conn = self.conn();
        let mut entries: Vec<(String, i64, ChainEntry)> = Vec::new();
        let mut stmt = conn
            .prepare(
                "SELECT b.date, a.id, b.name, a.kinds, a.level, a.score, a.items FROM alerts a
                 JOIN cases c ON c.id = a.case_id JOIN batches b ON b.id = a.batch
                 WHERE c.household_id = ?1",
            )
            .map_err(sql)?;
        for row in stmt
            .query_map(params![household_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    format!(
                        "batch {}: {} {} (score {}), items {}",
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?
                    ),
                ))
            })
            .map_err(sql)?
        {
            let (date, id, detail) = row.map_err(sql)?;
            entries.push((date.clone(), id, ChainEntry { date, what: "alert".into(), detail }));
        }
        let mut stmt = conn
            .prepare(
                "SELECT r.sent, r.id, r.department, r.role, r.due, b.name FROM referrals r
                 JOIN cases c ON c.id = r.case_id JOIN batches b ON b.id = r.batch WHERE c.household_id = ?1",
            )
            .map_err(sql)?;
        for row in stmt
            .query_map(params![household_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    format!(
                        "to {} ({}), due {}, batch {}",
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?
                    ),
                ))
            })
            .map_err(sql)?
        {
            let (date, id, detail) = row.map_err(sql)?;
            entries.push((
                date.clone(),
                1_000_000 + id,
                ChainEntry { date, what: "referral".into(), detail },
            ));
        }
        let mut stmt = conn
            .prepare(
                "SELECT a.date, a.id, r.department, a.verified_need, a.assistance, a.amount, a.late FROM answers a
                 JOIN referrals r ON r.id = a.referral JOIN cases c ON c.id = r.case_id WHERE c.household_id = ?1",
            )
            .map_err(sql)?;
        for row in stmt
            .query_map(params![household_id], |r| {
                let amount: Option<f64> = r.get(5)?;
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    format!(
                        "{}: {}{}{}{}",
                        r.get::<_, String>(2)?,
                        if r.get::<_, bool>(3)? { "in need" } else { "not in need" },
                        Some(r.get::<_, String>(4)?)
                            .filter(|a| !a.is_empty())
                            .map(|a| format!(", gave {a}"))
                            .unwrap_or_default(),
                        amount.map(|a| format!(" ({a} yuan)")).unwrap_or_default(),
                        if r.get::<_, bool>(6)? { ", late" } else { "" }
                    ),
                ))
            })
            .map_err(sql)?
        {
            let (date, id, detail) = row.map_err(sql)?;
            entries.push((date.clone(), 2_000_000 + id, ChainEntry { date, what: "answer".into(), detail }));
        }
        let mut stmt = conn
            .prepare(
                "SELECT closed, id, close_reason FROM cases WHERE household_id = ?1 AND closed IS NOT NULL",
            )
            .map_err(sql)?;
        for row in stmt
            .query_map(params![household_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                ))
            })
            .map_err(sql)?
        {
            let (date, id, detail) = row.map_err(sql)?;
            entries.push((date.clone(), 3_000_000 + id, ChainEntry { date, what: "closed".into(), detail }));
        }
        // by date; on one day alerts, then referrals, answers, closings
        entries.sort_by(|a, b| day(&a.0).unwrap_or(0).cmp(&day(&b.0).unwrap_or(0)).then(a.1.cmp(&b.1)));
        Ok(entries.into_iter().map(|(_, _, e)| e).collect())
    }
}
