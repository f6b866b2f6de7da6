//! Cutting both files of a roster into batches of joined households.

use hhrisk_tables::{trim_cell, Fields, Records};

use crate::cell::same;
use crate::roster::{Input, Layout, RosterError};
use crate::stream::{Batch, StreamError, BATCH};

/// Households in a row without members, while a member row waits for a
/// later household, after which the files are taken to be in different
/// orders and the stream stops (the regrouped read then gives the same
/// results). Without it, a roster whose members are sorted another way
/// would be read to the end, every household found without members,
/// before the stream could tell; a grouped roster has a household without
/// members here and there, not dozens in a row.
pub(crate) const MISALIGNED_AFTER: usize = 32;

/// Reads both files and cuts them into batches of joined households.
pub(crate) struct Splitter<'r> {
    pub(crate) h_layout: &'r Layout<'r>,
    pub(crate) m_layout: &'r Layout<'r>,
    pub(crate) households: &'r mut Input,
    pub(crate) members: &'r mut Input,
    /// The member record read ahead, when it belongs to a later batch.
    pub(crate) carry: Records,
    /// Whether a member record has been read ahead (the last one of the
    /// batch being filled, or the one in `carry`).
    pub(crate) pending: bool,
    pub(crate) started: bool,
    pub(crate) last_household: String,
    /// Its bytes as in the file, and those of the last person id.
    pub(crate) last_household_raw: Vec<u8>,
    pub(crate) last_person_raw: Vec<u8>,
    /// Whether `last_person_raw` is `plain`.
    pub(crate) last_person_plain: bool,
    /// Whether keys are checked for repeats by fingerprints (so that the
    /// splitter need not compare a person id with the one before).
    pub(crate) fingerprints: bool,
    pub(crate) seq: usize,
    /// Households in a row with no member while a member waits for its
    /// own: past [`MISALIGNED_AFTER`], the files are taken to be in
    /// different orders.
    pub(crate) without_members: usize,
    pub(crate) household_rows: u64,
    pub(crate) member_rows: u64,
}

impl<'r> Splitter<'r> {
    pub(crate) fn new(
        h_layout: &'r Layout,
        m_layout: &'r Layout,
        households: &'r mut Input,
        members: &'r mut Input,
        fingerprints: bool,
    ) -> Self {
        Splitter {
            h_layout,
            m_layout,
            households,
            members,
            carry: Records::default(),
            pending: false,
            started: false,
            last_household: String::new(),
            last_household_raw: Vec::new(),
            last_person_raw: Vec::new(),
            last_person_plain: false,
            fingerprints,
            seq: 0,
            without_members: 0,
            household_rows: 0,
            member_rows: 0,
        }
    }

    /// Fills `batch` with the next households; `false` when there are none.
    pub(crate) fn fill(&mut self, batch: &mut Batch) -> Result<bool, StreamError> {
        batch.households.clear();
        batch.members.clear();
        batch.spans.clear();
        batch.seq = self.seq;
        if !self.started {
            self.started = true;
            self.pending = self.members.read_into(&mut batch.members)?.is_some();
        } else if self.pending {
            let (line, data, ends) = self.carry.get(0);
            batch.members.push_fields(line, data, ends);
        }
        let (h_id, m_id, m_key) = (self.h_layout.id_at, self.m_layout.id_at, self.m_layout.key_at);
        let size = self.batch_size();
        while batch.spans.len() < size {
            let Some(line) = self.households.read_into(&mut batch.households)? else { break };
            self.household_rows += 1;
            let (_, data, ends) = batch.households.get(batch.households.len() - 1);
            let raw_id = (Fields { data, ends }).get(h_id).unwrap_or_default();
            let id = match trim_cell(raw_id) {
                Ok(id) if !id.is_empty() && id != self.last_household => id,
                _ => {
                    return Err(StreamError::NotAligned(format!(
                        "household_id at line {line} is empty or repeated"
                    )))
                }
            };
            self.last_household.clear();
            self.last_household.push_str(id);
            self.last_household_raw.clear();
            self.last_household_raw.extend_from_slice(raw_id);
            // the pending member, if any, is the last record of the batch
            let first = batch.members.len() - usize::from(self.pending);
            while self.pending {
                let (m_line, data, ends) = batch.members.get(batch.members.len() - 1);
                let fields = Fields { data, ends };
                // the same bytes as the household's id, or the same text
                let raw_id = fields.get(m_id).unwrap_or_default();
                if !same(raw_id, &self.last_household_raw)
                    && trim_cell(raw_id) != Ok(self.last_household.as_str())
                {
                    break;
                }
                if !self.fresh_person(fields.get(m_key).unwrap_or_default()) {
                    return Err(StreamError::NotAligned(format!(
                        "person_id at members line {m_line} is empty or repeated"
                    )));
                }
                self.member_rows += 1;
                self.pending = self.members.read_into(&mut batch.members)?.is_some();
            }
            let span = first..batch.members.len() - usize::from(self.pending);
            if span.is_empty() && self.pending {
                self.without_members += 1;
                if self.without_members > MISALIGNED_AFTER {
                    return Err(StreamError::NotAligned(format!(
                        "{MISALIGNED_AFTER} households in a row up to line {line} have no member, while members \
                         of another household wait: members.csv is not in the order of households.csv"
                    )));
                }
            } else {
                self.without_members = 0;
            }
            batch.spans.push(span);
        }
        if self.pending {
            // the member read ahead goes with the next batch
            self.carry.clear();
            let last = batch.members.len() - 1;
            let (line, data, ends) = batch.members.get(last);
            self.carry.push_fields(line, data, ends);
            batch.members.truncate(last);
        }
        self.seq += 1;
        Ok(!batch.spans.is_empty())
    }

    /// Households in the next batch: [`BATCH`], but fewer in the first
    /// batches, so that every thread starts soon, and near the end of
    /// households.csv (going by its size), so that no thread is left
    /// working a long last batch while the others have none. The sizes
    /// follow from the files alone, never from the number of threads.
    pub(crate) fn batch_size(&self) -> usize {
        let first = BATCH >> 3usize.saturating_sub(self.seq);
        // households left, at the bytes a household so far
        let left = match self.households.progress() {
            Some((read, left)) if self.household_rows > 0 && read > 0 => {
                usize::try_from(u128::from(left) * u128::from(self.household_rows) / u128::from(read))
                    .unwrap_or(usize::MAX)
            }
            _ => usize::MAX,
        };
        first.min((left / 4).max(BATCH / 8))
    }

    /// Whether a member's person id (its bytes in the file) may follow the
    /// one before: not empty, and, unless fingerprints find repeats at the
    /// end (next to each other or not), not the same as the one before.
    pub(crate) fn fresh_person(&mut self, raw: &[u8]) -> bool {
        let plain = plain(raw);
        if self.fingerprints {
            return plain || matches!(trim_cell(raw), Ok(p) if !p.is_empty());
        }
        let fresh = if plain && self.last_person_plain {
            // no space or non-ASCII byte at the ends: the text is the bytes
            !same(raw, &self.last_person_raw)
        } else {
            matches!(trim_cell(raw), Ok(p) if !p.is_empty() && trim_cell(&self.last_person_raw) != Ok(p))
        };
        self.last_person_raw.clear();
        self.last_person_raw.extend_from_slice(raw);
        self.last_person_plain = plain;
        fresh
    }

    /// After the last batch: the row counts, or why the files do not fit.
    pub(crate) fn finish(self) -> Result<(u64, u64), StreamError> {
        if self.household_rows == 0 {
            return Err(StreamError::Roster(RosterError::Empty {
                path: self.h_layout.path.clone(),
                message: "the file has a header but no households; export the roster again".to_string(),
            }));
        }
        if self.pending {
            let (line, data, ends) = self.carry.get(0);
            let id = match (Fields { data, ends }).get(self.m_layout.id_at).map(trim_cell) {
                Some(Ok(id)) => id,
                _ => "",
            };
            return Err(StreamError::NotAligned(format!(
                "members.csv line {line}: household {id} is not where households.csv has it (or not there at all)"
            )));
        }
        Ok((self.household_rows, self.member_rows))
    }
}

/// Whether a cell's text is its bytes: ASCII, not empty, with no white
/// space at either end (so `trim_cell` would return it as it is).
pub(crate) fn plain(bytes: &[u8]) -> bool {
    matches!((bytes.first(), bytes.last()), (Some(&a), Some(&z)) if a > b' ' && z > b' ') && bytes.is_ascii()
}
