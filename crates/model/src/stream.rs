//! Streaming a roster whose members are grouped by household in the order
//! of households.csv, as exports and the simulator write them: one
//! household at a time, with memory that does not hold the file.
//!
//! When the files turn out not to be aligned (a member whose household is
//! neither the current nor the next one), or a key repeats, streaming
//! stops with [`StreamError::NotAligned`] and the caller reads the roster
//! whole with [`Roster::read`](crate::Roster::read), which joins any order
//! and refuses every row of a repeated key. The results are the same
//! households scored or refused.

use std::hash::{BuildHasher, Hasher};
use std::path::Path;

use crate::expr::{Inputs, Scope};
use crate::model::Model;
use crate::roster::{Issue, ReadOptions, RosterError, RowKeys, RowReader};

/// What the stream hands over, household by household.
#[derive(Debug)]
pub enum Streamed<'a> {
    /// A household that passed every check.
    Household {
        /// `household_id`.
        id: &'a str,
        /// `village`.
        village: &'a str,
        /// Line in households.csv.
        line: u64,
        /// Its inputs.
        inputs: Inputs<'a>,
    },
    /// A household refused, with every problem found in its rows.
    Refused(&'a [Issue]),
}

/// Counts of a stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamSummary {
    /// Data rows in households.csv.
    pub household_rows: usize,
    /// Data rows in members.csv.
    pub member_rows: usize,
    /// Households scored.
    pub accepted: usize,
    /// Households refused.
    pub refused: usize,
}

/// Why a stream stopped.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// A file could not be read at all.
    #[error(transparent)]
    Roster(#[from] RosterError),
    /// The files cannot be streamed: read the roster whole instead.
    #[error("{0}")]
    NotAligned(String),
    /// The consumer failed (writing output).
    #[error("{0}")]
    Consumer(String),
}

/// Fingerprints of the keys seen: 8 bytes a key instead of the key,
/// appended as rows pass and checked for repeats once, sorted, at the end
/// (cheaper than a hash set probed on every row). A collision of two
/// different 64-bit fingerprints (about 1 in 10⁵ for 40 million keys) only
/// sends the roster to the whole-file path, which compares the keys.
struct Seen {
    state: std::hash::RandomState,
    fingerprints: Vec<u64>,
    enabled: bool,
    last: String,
    /// A repeat of the key just before (caught at once, even when disabled).
    adjacent: bool,
}

impl Seen {
    fn new(enabled: bool) -> Self {
        Seen {
            state: std::hash::RandomState::new(),
            fingerprints: Vec::new(),
            enabled,
            last: String::new(),
            adjacent: false,
        }
    }

    /// Records a key; `false` when it repeats the key just before.
    fn insert(&mut self, key: &str) -> bool {
        let new = self.last != key;
        self.last.clear();
        self.last.push_str(key);
        if self.enabled {
            let mut h = self.state.build_hasher();
            h.write(key.as_bytes());
            self.fingerprints.push(h.finish());
        }
        self.adjacent |= !new;
        new
    }

    /// Whether any key repeated anywhere.
    fn repeats(mut self) -> bool {
        self.fingerprints.sort_unstable();
        self.adjacent || self.fingerprints.windows(2).any(|w| w[0] == w[1])
    }
}

/// Member rows read ahead, in one allocation per field rather than per row.
#[derive(Default)]
struct Batch {
    /// Per row: line, household id (a range of `text`), whether the row is
    /// clean, and its issues (a range of `issues`).
    rows: Vec<(u64, std::ops::Range<usize>, bool, std::ops::Range<usize>)>,
    text: String,
    values: Vec<f64>,
    issues: Vec<Issue>,
}

/// Streams a roster folder (or workbook) household by household.
pub fn stream(
    model: &Model,
    dir: &Path,
    options: &ReadOptions,
    mut consume: impl FnMut(Streamed) -> Result<(), String> + Send,
) -> Result<StreamSummary, StreamError> {
    let (h_at, m_at) = if crate::text::is_workbook(dir) {
        ((dir.to_path_buf(), "households"), (dir.to_path_buf(), "members"))
    } else {
        ((dir.join("households.csv"), "households"), (dir.join("members.csv"), "members"))
    };
    let mut households = RowReader::open(model, &h_at.0, h_at.1, Scope::Household, options)?;
    let mut members = RowReader::open(model, &m_at.0, m_at.1, Scope::Member, options)?;
    let stride = members.stride();
    let check = !options.skip_duplicate_check;
    // Members are read and checked on a second thread, in batches, while
    // this one reads households, joins, and hands households over: the
    // order, and so the output, is the same as on one thread.
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Batch, StreamError>>(8);
        scope.spawn(move || {
            let mut seen_people = Seen::new(check);
            let mut keys = RowKeys { line: 0, household: String::new(), key: String::new(), ok: false };
            loop {
                let mut batch = Batch { values: Vec::with_capacity(BATCH * stride), ..Batch::default() };
                let mut failed = None;
                while batch.rows.len() < BATCH {
                    let first_issue = batch.issues.len();
                    match members.next_into(&mut batch.values, &mut batch.issues, &mut keys) {
                        Ok(true) if keys.key.is_empty() || !seen_people.insert(&keys.key) => {
                            failed = Some(StreamError::NotAligned(format!(
                                "person_id at members line {} is empty or repeated",
                                keys.line
                            )));
                            break;
                        }
                        Ok(true) => {
                            let at = batch.text.len();
                            batch.text.push_str(&keys.household);
                            batch.rows.push((
                                keys.line,
                                at..batch.text.len(),
                                keys.ok,
                                first_issue..batch.issues.len(),
                            ));
                        }
                        Ok(false) => break,
                        Err(e) => {
                            failed = Some(e.into());
                            break;
                        }
                    }
                }
                let done = batch.rows.len() < BATCH || failed.is_some();
                if done && failed.is_none() && std::mem::replace(&mut seen_people, Seen::new(false)).repeats()
                {
                    failed = Some(StreamError::NotAligned("a person_id repeats in members.csv".into()));
                }
                // the last batch before a repeat is reported goes first
                let sent = match failed {
                    Some(e) => {
                        if !batch.rows.is_empty() {
                            let _ = tx.send(Ok(batch));
                        }
                        tx.send(Err(e))
                    }
                    None if !batch.rows.is_empty() => tx.send(Ok(batch)),
                    None => Ok(()),
                };
                if done || sent.is_err() {
                    break;
                }
            }
        });
        join(&mut households, stride, check, &rx, &mut consume)
    })
}

/// Members handed over at a time by the reading thread.
const BATCH: usize = 1024;

fn join(
    households: &mut RowReader,
    stride: usize,
    check: bool,
    batches: &std::sync::mpsc::Receiver<Result<Batch, StreamError>>,
    consume: &mut dyn FnMut(Streamed) -> Result<(), String>,
) -> Result<StreamSummary, StreamError> {
    let mut seen_households = Seen::new(check);
    let mut summary = StreamSummary::default();
    let mut h_values = Vec::with_capacity(households.stride());
    let mut m_values: Vec<f64> = Vec::new();
    let mut issues: Vec<Issue> = Vec::new();
    let mut h = RowKeys { line: 0, household: String::new(), key: String::new(), ok: false };
    // the current batch and the next member row in it
    let mut batch = Batch::default();
    let mut next = 0;
    let more =
        |batch: &mut Batch, next: &mut usize, summary: &mut StreamSummary| -> Result<bool, StreamError> {
            if *next < batch.rows.len() {
                return Ok(true);
            }
            match batches.recv() {
                Ok(Ok(b)) => {
                    summary.member_rows += b.rows.len();
                    *batch = b;
                    *next = 0;
                    Ok(true)
                }
                Ok(Err(e)) => Err(e),
                Err(_) => Ok(false),
            }
        };
    loop {
        h_values.clear();
        issues.clear();
        if !households.next_into(&mut h_values, &mut issues, &mut h)? {
            break;
        }
        summary.household_rows += 1;
        if h.household.is_empty() || !seen_households.insert(&h.household) {
            return Err(StreamError::NotAligned(format!(
                "household_id at line {} is empty or repeated",
                h.line
            )));
        }
        m_values.clear();
        let mut ok = h.ok;
        let mut count = 0;
        while more(&mut batch, &mut next, &mut summary)? {
            let (_, range, clean, issue_range) = batch.rows[next].clone();
            if batch.text[range] != *h.household {
                break;
            }
            ok &= clean;
            m_values.extend_from_slice(&batch.values[next * stride..(next + 1) * stride]);
            issues.extend(batch.issues[issue_range].iter().cloned());
            count += 1;
            next += 1;
        }
        for i in &mut issues {
            i.household_line.get_or_insert(h.line);
        }
        if count == 0 {
            // No members here. If the files are in different orders, some
            // member is never taken and the stream ends in NotAligned.
            issues.push(Issue {
                file: households.path.clone(),
                line: h.line,
                column: None,
                household_id: Some(h.household.clone()),
                household_line: Some(h.line),
                person_id: None,
                message: "the household has no members in members.csv; add its members, or remove the row"
                    .to_string(),
            });
            ok = false;
        }
        if ok {
            summary.accepted += 1;
            let inputs = Inputs { household: &h_values, members: &m_values, stride, count };
            consume(Streamed::Household { id: &h.household, village: &h.key, line: h.line, inputs })
                .map_err(StreamError::Consumer)?;
        } else {
            summary.refused += 1;
            consume(Streamed::Refused(&issues)).map_err(StreamError::Consumer)?;
        }
    }
    if seen_households.repeats() {
        return Err(StreamError::NotAligned("a household_id repeats in households.csv".into()));
    }
    if summary.household_rows == 0 {
        return Err(StreamError::Roster(RosterError::Empty {
            path: households.path.clone(),
            message: "the file has a header but no households; export the roster again".to_string(),
        }));
    }
    if more(&mut batch, &mut next, &mut summary)? {
        let (line, range, _, _) = batch.rows[next].clone();
        return Err(StreamError::NotAligned(format!(
            "members.csv line {line}: household {} is not where households.csv has it (or not there at all)",
            &batch.text[range]
        )));
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Roster;

    fn fixture() -> (Model, std::path::PathBuf) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        (Model::from_path(&root.join("indicators/xiaochang.toml")).unwrap(), root.join("tests/data/roster"))
    }

    #[test]
    fn streaming_hands_over_what_the_whole_file_read_accepts() {
        let (model, dir) = fixture();
        let whole = Roster::read(&model, &dir, &ReadOptions::default()).unwrap();
        let mut streamed = Vec::new();
        let summary = stream(&model, &dir, &ReadOptions::default(), |e| {
            if let Streamed::Household { id, inputs, .. } = e {
                streamed.push((id.to_string(), inputs.household.to_vec(), inputs.members.to_vec()));
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(summary, StreamSummary { household_rows: 6, member_rows: 17, accepted: 6, refused: 0 });
        let expected: Vec<(String, Vec<f64>, Vec<f64>)> = whole
            .households
            .iter()
            .map(|h| {
                let x = whole.inputs(h);
                (h.id.clone(), x.household.to_vec(), x.members.to_vec())
            })
            .collect();
        assert_eq!(streamed, expected);
    }

    #[test]
    fn members_in_another_order_stop_the_stream() {
        let (model, dir) = fixture();
        let tmp = std::env::temp_dir().join(format!("hhrisk-stream-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::copy(dir.join("households.csv"), tmp.join("households.csv")).unwrap();
        let members = std::fs::read_to_string(dir.join("members.csv")).unwrap();
        let mut lines: Vec<&str> = members.lines().collect();
        lines.swap(1, 5); // a member of H003 before those of H001
        std::fs::write(tmp.join("members.csv"), lines.join("\n") + "\n").unwrap();
        let result = stream(&model, &tmp, &ReadOptions::default(), |_| Ok(()));
        assert!(matches!(result, Err(StreamError::NotAligned(_))), "{result:?}");
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
