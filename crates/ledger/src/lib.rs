//! The case ledger (台账): every alert, referral, answer and closing of the
//! monitoring loop, kept in one SQLite file so that each monthly turn
//! remembers the ones before it.
//!
//! A **case** is a household's open matter: it opens when the household
//! is first alerted, its first department owns it (首问负责制), later
//! batches that alert it again add to it instead of sending it anew, and it
//! closes when every department it was referred to has answered, or by
//! hand with a reason. A household alerted after its case closed opens a
//! new case: its chain (一户一条救助链) runs through all of them.
//!
//! Every change is one transaction (a failed or killed command leaves the
//! ledger as it was) and is recorded as an event: who (the operating-system
//! user), when, which command and which input files (SHA-256). Nothing is
//! deleted; a correction is a new record. The ledger holds household ids,
//! alert facts and answers, never names or ID numbers.
#![deny(missing_docs)]

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sha2::Digest;

mod query;

pub use query::{By, CaseFilter, CaseView, ChainEntry, Figures, ReferralView, VerifiedOutcome};

/// The schema version this build writes; older ledgers are migrated when
/// opened.
pub const SCHEMA_VERSION: i64 = 2;

/// Why the ledger could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// SQLite refused.
    #[error("ledger {path}: {source}")]
    Sql {
        /// The ledger file.
        path: String,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The file was written by a newer hhrisk.
    #[error("ledger {path}: schema version {found} is newer than this hhrisk knows ({SCHEMA_VERSION}); update hhrisk")]
    Newer {
        /// The ledger file.
        path: String,
        /// Its version.
        found: i64,
    },
    /// An input file could not be hashed.
    #[error("cannot read {path} to record its hash: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A request that does not fit the ledger.
    #[error("{0}")]
    Invalid(String),
}

/// An open ledger.
pub struct Ledger {
    conn: Connection,
    path: String,
}

/// Who changed the ledger, with what.
#[derive(Debug, Clone, Default)]
pub struct Event {
    /// The command, as typed (`dispatch --batch 2024-07 …`).
    pub command: String,
    /// Input files, hashed when recorded.
    pub inputs: Vec<std::path::PathBuf>,
    /// The day it happened (`2024-07-05`).
    pub date: String,
}

/// A batch of alerts, as `dispatch` sends it.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Its name (`2024-07`), unique in the ledger.
    pub name: String,
    /// The model's name, version and file hash.
    pub model: (String, String, String),
    /// The thresholds file's hash, when one was used.
    pub thresholds: Option<String>,
    /// The households alerted, in the order of the scores file.
    pub alerts: Vec<CaseAlert>,
}

/// One household alerted in a batch.
#[derive(Debug, Clone, Default)]
pub struct CaseAlert {
    /// The household.
    pub household_id: String,
    /// Its village.
    pub village: String,
    /// Alert kinds (`risk`, `not_enrolled`, `check_means`).
    pub kinds: Vec<String>,
    /// The band reached, if any.
    pub level: String,
    /// The score, as the scores file wrote it.
    pub score: String,
    /// The main items pushed (ids).
    pub items: Vec<String>,
    /// Departments it is referred to, the lead first, each with its
    /// answer's time limit in days.
    pub departments: Vec<(String, u32)>,
}

/// What recording a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Recorded {
    /// Households whose case opened with this batch.
    pub opened: Vec<String>,
    /// Households whose case was open already: updated, not sent again.
    pub updated: Vec<String>,
}

/// A department's answer about a household.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// The household.
    pub household_id: String,
    /// The department answering.
    pub department: String,
    /// The day of the answer (`2024-07-20`).
    pub date: String,
    /// Found in need or not.
    pub verified_need: bool,
    /// Kinds of assistance given.
    pub assistance: Vec<String>,
    /// Amount given (yuan).
    pub amount: Option<f64>,
    /// Free note.
    pub note: String,
    /// Where it was read (file and line), for messages.
    pub origin: String,
}

/// An answer that was not recorded, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Refused {
    /// The household.
    pub household_id: String,
    /// The department.
    pub department: String,
    /// Where it was read.
    pub origin: String,
    /// Why, and what to do.
    pub message: String,
}

/// What recording answers did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Answered {
    /// Answers recorded.
    pub recorded: usize,
    /// Of them, after the referral's due date.
    pub late: usize,
    /// Cases closed because every department has now answered.
    pub closed: Vec<String>,
    /// Answers not recorded.
    pub refused: Vec<Refused>,
}

const SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (
    id INTEGER PRIMARY KEY, date TEXT NOT NULL, user TEXT NOT NULL, command TEXT NOT NULL,
    inputs TEXT NOT NULL);
CREATE TABLE batches (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, date TEXT NOT NULL,
    model_name TEXT NOT NULL, model_version TEXT NOT NULL, model_hash TEXT NOT NULL,
    thresholds_hash TEXT, event INTEGER NOT NULL REFERENCES events(id));
CREATE TABLE cases (
    id INTEGER PRIMARY KEY, household_id TEXT NOT NULL, village TEXT NOT NULL,
    opened_batch INTEGER NOT NULL REFERENCES batches(id), opened TEXT NOT NULL,
    owner TEXT NOT NULL, closed TEXT, close_reason TEXT, close_event INTEGER REFERENCES events(id));
CREATE UNIQUE INDEX one_open_case ON cases(household_id) WHERE closed IS NULL;
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL REFERENCES cases(id),
    batch INTEGER NOT NULL REFERENCES batches(id), kinds TEXT NOT NULL, level TEXT NOT NULL,
    score TEXT NOT NULL, items TEXT NOT NULL);
CREATE TABLE referrals (
    id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL REFERENCES cases(id),
    batch INTEGER NOT NULL REFERENCES batches(id), department TEXT NOT NULL, role TEXT NOT NULL,
    sent TEXT NOT NULL, due TEXT NOT NULL, UNIQUE (case_id, department));
CREATE TABLE answers (
    id INTEGER PRIMARY KEY, referral INTEGER NOT NULL REFERENCES referrals(id), date TEXT NOT NULL,
    verified_need INTEGER NOT NULL, assistance TEXT NOT NULL, amount REAL, note TEXT NOT NULL,
    late INTEGER NOT NULL, event INTEGER NOT NULL REFERENCES events(id));
CREATE INDEX cases_household ON cases(household_id);
CREATE INDEX referrals_case ON referrals(case_id);
CREATE INDEX answers_referral ON answers(referral);
";

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
pub fn day(date: &str) -> Result<i32, LedgerError> {
    hhrisk_tables::date::parse_date(date)
        .ok_or_else(|| LedgerError::Invalid(format!("\"{date}\" is not a date; write it as 2024-07-05")))
}

/// Today's date, from the system clock.
pub fn today() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    hhrisk_tables::date::format_date((secs / 86_400) as i32)
}

/// SHA-256 of a file, in hex.
pub fn file_hash(path: &Path) -> Result<String, LedgerError> {
    let io = |source| LedgerError::Io { path: path.display().to_string(), source };
    let mut hasher = sha2::Sha256::new();
    let mut file = std::fs::File::open(path).map_err(io)?;
    std::io::copy(&mut file, &mut hasher).map_err(io)?;
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

impl Ledger {
    /// Opens the ledger at `path`, creating it (and its schema) when it
    /// does not exist, migrating an older one.
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        let shown = path.display().to_string();
        let sql = |source| LedgerError::Sql { path: shown.clone(), source };
        let conn = Connection::open(path).map_err(sql)?;
        // two commands at once wait for each other instead of failing
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", true).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        let mut ledger = Ledger { conn, path: shown };
        ledger.migrate()?;
        Ok(ledger)
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> LedgerError + '_ {
        move |source| LedgerError::Sql { path: self.path.clone(), source }
    }

    fn migrate(&mut self) -> Result<(), LedgerError> {
        let path = self.path.clone();
        let sql = |source| LedgerError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let has_meta: bool = tx
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(sql)?
            > 0;
        let version: i64 = if has_meta {
            tx.query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| r.get::<_, String>(0))
                .optional()
                .map_err(sql)?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        } else {
            0
        };
        if version > SCHEMA_VERSION {
            return Err(LedgerError::Newer { path, found: version });
        }
        // migrations, one per version: a new version adds its step here
        if version < 1 {
            tx.execute_batch(SCHEMA).map_err(sql)?;
        }
        if version < 2 {
            // a case's alerts, found without reading every alert: listing
            // the cases of five years took minutes without it
            tx.execute_batch("CREATE INDEX IF NOT EXISTS alerts_case ON alerts(case_id);").map_err(sql)?;
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![SCHEMA_VERSION.to_string()],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    fn event(tx: &rusqlite::Transaction, e: &Event) -> Result<i64, LedgerError> {
        let mut inputs = Vec::new();
        for p in &e.inputs {
            inputs.push(format!("{} sha256:{}", p.display(), file_hash(p)?));
        }
        let user =
            std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_else(|_| "unknown".into());
        tx.execute(
            "INSERT INTO events (date, user, command, inputs) VALUES (?1, ?2, ?3, ?4)",
            params![e.date, user, e.command, inputs.join("\n")],
        )
        .map_err(|source| LedgerError::Sql { path: String::new(), source })?;
        Ok(tx.last_insert_rowid())
    }

    /// The households with an open case, each with the departments its
    /// case was referred to.
    pub fn open_referrals(
        &self,
    ) -> Result<std::collections::HashMap<String, std::collections::HashSet<String>>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT c.household_id, r.department FROM cases c LEFT JOIN referrals r ON r.case_id = c.id
                 WHERE c.closed IS NULL",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)))
            .map_err(self.sql())?;
        let mut out: std::collections::HashMap<String, std::collections::HashSet<String>> =
            Default::default();
        for row in rows {
            let (household, department) = row.map_err(self.sql())?;
            out.entry(household).or_default().extend(department);
        }
        Ok(out)
    }

    /// Records a batch in one transaction: a case opens for each household
    /// without an open case (its first department owns it), an open case
    /// gets the new alert and referrals to departments it had not been
    /// sent to; each referral is due its department's days after the
    /// batch's date.
    pub fn record_batch(&mut self, batch: &Batch, event: &Event) -> Result<Recorded, LedgerError> {
        let date = day(&event.date)?;
        let path = self.path.clone();
        let sql = |source| LedgerError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let exists: bool = tx
            .query_row("SELECT count(*) FROM batches WHERE name = ?1", params![batch.name], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(sql)?
            > 0;
        if exists {
            return Err(LedgerError::Invalid(format!(
                "batch {} is in the ledger already; give this one another --batch name",
                batch.name
            )));
        }
        let ev = Self::event(&tx, event).map_err(|e| with_path(e, &path))?;
        tx.execute(
            "INSERT INTO batches (name, date, model_name, model_version, model_hash, thresholds_hash, event)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                batch.name,
                event.date,
                batch.model.0,
                batch.model.1,
                batch.model.2,
                batch.thresholds,
                ev
            ],
        )
        .map_err(sql)?;
        let batch_id = tx.last_insert_rowid();
        let mut recorded = Recorded::default();
        for a in &batch.alerts {
            let open: Option<i64> = tx
                .query_row(
                    "SELECT id FROM cases WHERE household_id = ?1 AND closed IS NULL",
                    params![a.household_id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql)?;
            let case_id = match open {
                Some(id) => {
                    recorded.updated.push(a.household_id.clone());
                    id
                }
                None => {
                    let owner = a.departments.first().map(|d| d.0.clone()).unwrap_or_default();
                    tx.execute(
                        "INSERT INTO cases (household_id, village, opened_batch, opened, owner) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![a.household_id, a.village, batch_id, event.date, owner],
                    )
                    .map_err(sql)?;
                    recorded.opened.push(a.household_id.clone());
                    tx.last_insert_rowid()
                }
            };
            tx.execute(
                "INSERT INTO alerts (case_id, batch, kinds, level, score, items) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![case_id, batch_id, a.kinds.join(";"), a.level, a.score, a.items.join(";")],
            )
            .map_err(sql)?;
            for (k, (department, days)) in a.departments.iter().enumerate() {
                let due = hhrisk_tables::date::format_date(date + *days as i32);
                tx.execute(
                    "INSERT INTO referrals (case_id, batch, department, role, sent, due) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT(case_id, department) DO NOTHING",
                    params![case_id, batch_id, department, if k == 0 { "lead" } else { "co" }, event.date, due],
                )
                .map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)?;
        Ok(recorded)
    }

    /// Records departments' answers in one transaction. An answer for a
    /// household without an open case, or from a department its case was
    /// not referred to, is refused (reported, not recorded); a second
    /// answer from the same department is recorded too (a correction: the
    /// latest counts). An answer after its due date is recorded as late. A
    /// case closes when every department it was referred to has answered.
    pub fn record_answers(&mut self, answers: &[Answer], event: &Event) -> Result<Answered, LedgerError> {
        let path = self.path.clone();
        let sql = |source| LedgerError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let ev = Self::event(&tx, event).map_err(|e| with_path(e, &path))?;
        let mut out = Answered::default();
        let mut touched: Vec<(i64, String)> = Vec::new();
        for a in answers {
            day(&a.date)?;
            let found: Option<(i64, i64, String)> = tx
                .query_row(
                    "SELECT r.id, c.id, r.due FROM referrals r JOIN cases c ON c.id = r.case_id
                     WHERE c.household_id = ?1 AND c.closed IS NULL AND r.department = ?2",
                    params![a.household_id, a.department],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(sql)?;
            let Some((referral, case_id, due)) = found else {
                let open: bool = tx
                    .query_row(
                        "SELECT count(*) FROM cases WHERE household_id = ?1 AND closed IS NULL",
                        params![a.household_id],
                        |r| r.get::<_, i64>(0),
                    )
                    .map_err(sql)?
                    > 0;
                let message = if open {
                    format!(
                        "household {}'s case was not referred to {}; the answer is left out: check the department",
                        a.household_id, a.department
                    )
                } else {
                    format!(
                        "household {} has no open case in the ledger; the answer is left out: check the id, or \
                         record its batch with dispatch --ledger first",
                        a.household_id
                    )
                };
                out.refused.push(Refused {
                    household_id: a.household_id.clone(),
                    department: a.department.clone(),
                    origin: a.origin.clone(),
                    message,
                });
                continue;
            };
            let late = day(&a.date)? > day(&due)?;
            tx.execute(
                "INSERT INTO answers (referral, date, verified_need, assistance, amount, note, late, event)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    referral,
                    a.date,
                    a.verified_need,
                    a.assistance.join(";"),
                    a.amount,
                    a.note,
                    late,
                    ev
                ],
            )
            .map_err(sql)?;
            out.recorded += 1;
            out.late += usize::from(late);
            touched.push((case_id, a.household_id.clone()));
        }
        touched.sort();
        touched.dedup();
        for (case_id, household) in touched {
            let unanswered: i64 = tx
                .query_row(
                    "SELECT count(*) FROM referrals r WHERE r.case_id = ?1
                     AND NOT EXISTS (SELECT 1 FROM answers a WHERE a.referral = r.id)",
                    params![case_id],
                    |r| r.get(0),
                )
                .map_err(sql)?;
            if unanswered == 0 {
                tx.execute(
                    "UPDATE cases SET closed = ?1, close_reason = 'every department answered', close_event = ?2
                     WHERE id = ?3",
                    params![event.date, ev, case_id],
                )
                .map_err(sql)?;
                out.closed.push(household);
            }
        }
        tx.commit().map_err(sql)?;
        Ok(out)
    }

    /// Closes a household's open case by hand, with a reason.
    pub fn close(&mut self, household_id: &str, reason: &str, event: &Event) -> Result<(), LedgerError> {
        if reason.trim().is_empty() {
            return Err(LedgerError::Invalid("give the reason for closing the case (--reason)".into()));
        }
        let path = self.path.clone();
        let sql = |source| LedgerError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let ev = Self::event(&tx, event).map_err(|e| with_path(e, &path))?;
        let changed = tx
            .execute(
                "UPDATE cases SET closed = ?1, close_reason = ?2, close_event = ?3
                 WHERE household_id = ?4 AND closed IS NULL",
                params![event.date, format!("closed by hand: {reason}"), ev, household_id],
            )
            .map_err(sql)?;
        if changed == 0 {
            return Err(LedgerError::Invalid(format!(
                "household {household_id} has no open case in the ledger"
            )));
        }
        tx.commit().map_err(sql)
    }

    /// The connection, for queries.
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The file, for messages.
    pub fn path(&self) -> &str {
        &self.path
    }
}

fn with_path(e: LedgerError, path: &str) -> LedgerError {
    match e {
        LedgerError::Sql { source, .. } => LedgerError::Sql { path: path.to_string(), source },
        other => other,
    }
}
