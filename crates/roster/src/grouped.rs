//! Members put in household order in memory, so that a roster whose
//! members.csv is sorted another way still streams.

use std::path::Path;

use hhrisk_tables::records::field;
use hhrisk_tables::{Encoding, RawCsv, Records};

/// The rows of a members.csv that is not grouped by household in the
/// order of households.csv, put in that order in memory, so that the
/// roster still streams: each record kept as it is in the file, back to
/// back (about the size of the file), with its household's place and its
/// line (24 bytes a member). Holding the whole roster as checked values
/// would take about 2.5 KB a household instead.
pub struct GroupedCsv {
    arena: Vec<u8>,
    /// For each member row: its household's place in households.csv, its
    /// length, where it starts in `arena` and its line; sorted by place,
    /// a household's members in file order.
    order: Vec<(u32, u32, u64, u64)>,
    next: usize,
}

impl GroupedCsv {
    /// Reads both files (after their headers), `households_id` and
    /// `members_id` being the `household_id` columns. `None` when a member's
    /// household is not in households.csv, a `household_id` repeats there, or
    /// an id cannot be read: the whole-file read reports those.
    pub fn group(
        households: &Path,
        households_id: usize,
        members: &Path,
        members_id: usize,
        encoding: Encoding,
    ) -> std::io::Result<Option<GroupedCsv>> {
        use std::hash::BuildHasher;
        let hasher = foldhash::quality::RandomState::default();
        // ids as the reader compares them (trimmed), as 64-bit fingerprints:
        // a collision only sends the roster to the whole-file read, since the
        // reader still compares the ids themselves
        let key = |record: &[u8], at: usize| {
            let cell = field(record, at).ok()??;
            hhrisk_tables::trim_cell(&cell).ok().filter(|id| !id.is_empty()).map(|id| hasher.hash_one(id))
        };
        let mut places: std::collections::HashMap<u64, u32, foldhash::fast::RandomState> = Default::default();
        let mut raw = RawCsv::open(households, encoding)?;
        raw.read_raw(|_, _| ())?;
        while let Some(found) = raw.read_raw(|_, record| key(record, households_id))? {
            let place = u32::try_from(places.len()).map_err(std::io::Error::other)?;
            match found {
                Some(id) if places.insert(id, place).is_none() => {}
                _ => return Ok(None),
            }
        }
        // sized for the file, when the memory is there (else it grows)
        let size = usize::try_from(std::fs::metadata(members).map_or(0, |m| m.len())).unwrap_or(usize::MAX);
        let mut arena = Vec::new();
        let _ = arena.try_reserve_exact(size);
        let mut order = Vec::new();
        let mut raw = RawCsv::open(members, encoding)?;
        raw.read_raw(|_, _| ())?;
        loop {
            let kept = raw.read_raw(|line, record| {
                let place = *places.get(&key(record, members_id)?)?;
                order.push((place, u32::try_from(record.len()).ok()?, arena.len() as u64, line));
                arena.extend_from_slice(record);
                Some(())
            })?;
            match kept {
                Some(Some(())) => {}
                Some(None) => return Ok(None),
                None => break,
            }
            // room for the rest at the first thousand rows' size, so that
            // the list does not double (and copy itself) as it grows
            if order.len() == 1000 {
                let each = arena.len() / 1000 + 1;
                let _ = order.try_reserve((size / each).saturating_mul(21) / 20);
            }
        }
        // by place, then where the row was in the file (the arena follows
        // the file): a household's members keep their order, with no
        // buffer as a stable sort would take
        order.sort_unstable_by_key(|&(place, _, start, _)| (place, start));
        Ok(Some(GroupedCsv { arena, order, next: 0 }))
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.arena.len() + self.order.len() * std::mem::size_of::<(u32, u32, u64, u64)>()
    }

    /// Appends the next member row, in household order, to `records`; its
    /// line, or `None` at the end.
    pub fn read(&mut self, records: &mut Records) -> std::io::Result<Option<u64>> {
        let Some(&(_, len, start, line)) = self.order.get(self.next) else { return Ok(None) };
        self.next += 1;
        let start = usize::try_from(start).map_err(std::io::Error::other)?;
        let raw = &self.arena[start..start + len as usize];
        records.push_raw(line, raw)?;
        Ok(Some(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hhrisk_tables::Fields;

    /// A folder with households.csv holding `bytes`.
    fn file_of(bytes: &[u8]) -> (std::path::PathBuf, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("hhrisk-grouped-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("households.csv");
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    /// Each record's line and fields.
    fn lines_and_fields(records: &Records) -> Vec<(u64, Vec<Vec<u8>>)> {
        (0..records.len())
            .map(|r| {
                let (line, data, ends) = records.get(r);
                let fields = Fields { data, ends };
                (line, (0..fields.len()).map(|i| fields.get(i).unwrap().to_vec()).collect())
            })
            .collect()
    }

    #[test]
    fn grouped_members_come_in_household_order_with_their_own_lines_and_fields() {
        let (dir, households) = file_of(b"household_id,village\r\nH2,x\r\nH1,y\r\nH3,z\r\n");
        let members = dir.join("members.csv");
        // out of order, CRLF, a quoted name holding a comma, a quote and a line break
        std::fs::write(
            &members,
            b"household_id,person_id,name\r\nH1,p1,a\r\nH3,p5,\"b, \"\"c\"\"\r\nd\"\r\nH2,p2,e\r\nH1,p3,f\r\n H2 ,p4,g\r\n",
        )
        .unwrap();
        let mut grouped = GroupedCsv::group(&households, 0, &members, 0, Encoding::Utf8).unwrap().unwrap();
        let mut records = Records::default();
        while grouped.read(&mut records).unwrap().is_some() {}
        let read = lines_and_fields(&records);
        let row = |line: u64, cells: [&str; 3]| (line, cells.iter().map(|c| c.as_bytes().to_vec()).collect());
        assert_eq!(
            read,
            [
                // (the quoted name spans lines 3 and 4)
                row(5, ["H2", "p2", "e"]),
                row(7, [" H2 ", "p4", "g"]),
                row(2, ["H1", "p1", "a"]),
                row(6, ["H1", "p3", "f"]),
                row(3, ["H3", "p5", "b, \"c\"\r\nd"]),
            ]
        );
        // a member of a household not in households.csv: not put in order
        std::fs::write(&members, b"household_id,person_id\nH1,p1\nH9,p2\n").unwrap();
        assert!(GroupedCsv::group(&households, 0, &members, 0, Encoding::Utf8).unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
