//! Members put in household order, a partition at a time, so that a
//! roster whose members.csv is sorted another way still streams in bounded
//! memory.

use std::path::Path;

use hhrisk_tables::records::field;
use hhrisk_tables::{trim_cell, Encoding, RawCsv, Records};

/// Bytes of member records a partition holds, about: the most held in
/// memory at once once the members have been cut into partitions.
pub const PARTITION_BYTES: u64 = 8 << 20;

/// Most partitions (each an open temporary file while members are cut).
const MAX_PARTITIONS: u64 = 256;

/// Member records read at a time.
const BLOCK_ROWS: usize = 4096;

/// Member records read ahead: their bytes back to back and, for each, its
/// household's fingerprint (`None` when the id cannot be read), its line,
/// and where it is in `bytes`.
#[derive(Default)]
struct Block {
    bytes: Vec<u8>,
    rows: Vec<(Option<u64>, u64, usize, usize)>,
}

/// Bytes before each record in a partition: its household's place (4), its
/// length (4) and its line (8).
const HEAD: usize = 16;

/// The rows of a members.csv that is not grouped by household in the
/// order of households.csv, put in that order so that the roster still
/// streams. Members are cut, in one pass, into partitions of consecutive
/// households (each record as it is in the file, with its household's
/// place and its line), written to anonymous temporary files when the file
/// is larger than one partition; each partition is then read back, put in
/// household order in memory, and handed out. Memory holds one partition
/// (about [`PARTITION_BYTES`]) and the households' places (16 bytes a
/// household), whatever the size of the file; reading a partition back
/// touches memory that fits in a cache, where putting the whole file in
/// order at once read it at random.
pub struct GroupedCsv {
    /// Partitions not yet handed out, in order.
    parts: std::collections::VecDeque<Part>,
    /// The partition being handed out: its records back to back, and for
    /// each (place, length, start, line), sorted by place, a household's
    /// members in file order.
    arena: Vec<u8>,
    order: Vec<(u32, u32, u64, u64)>,
    next: usize,
    /// The partition as read, before its records are copied into `arena`
    /// in order (kept, to be reused).
    sorted: Vec<u8>,
    /// The most bytes held at once.
    held: usize,
}

/// A partition's records, in memory or in a temporary file.
enum Part {
    Memory(Vec<u8>),
    File(std::io::BufWriter<std::fs::File>),
}

impl GroupedCsv {
    /// Reads both files (after their headers), `households_id` and
    /// `members_id` being the `household_id` columns. `None` when a member's
    /// household is not in households.csv, a `household_id` repeats there, or
    /// an id cannot be read: the whole-file read reports those. More than
    /// one of `threads` reads members.csv on one thread while another puts
    /// its rows in their partitions.
    pub fn group(
        households: &Path,
        households_id: usize,
        members: &Path,
        members_id: usize,
        encoding: Encoding,
        threads: usize,
    ) -> std::io::Result<Option<GroupedCsv>> {
        Self::group_in(households, households_id, members, members_id, encoding, threads, PARTITION_BYTES)
    }

    /// [`GroupedCsv::group`] into partitions of about `partition_bytes`;
    /// members are read on a thread of their own when `threads` > 1.
    fn group_in(
        households: &Path,
        households_id: usize,
        members: &Path,
        members_id: usize,
        encoding: Encoding,
        threads: usize,
        partition_bytes: u64,
    ) -> std::io::Result<Option<GroupedCsv>> {
        use std::hash::BuildHasher;
        use std::io::Write;
        let hasher = foldhash::quality::RandomState::default();
        // ids as the reader compares them (trimmed), as 64-bit fingerprints:
        // a collision only sends the roster to the whole-file read, since the
        // reader still compares the ids themselves
        let key = |record: &[u8], at: usize| {
            let cell = field(record, at).ok()??;
            trim_cell(&cell).ok().filter(|id| !id.is_empty()).map(|id| hasher.hash_one(id))
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
        // partitions of consecutive households, about PARTITION_BYTES each
        let size = std::fs::metadata(members).map_or(0, |m| m.len());
        let count = size.div_ceil(partition_bytes.max(1)).clamp(1, MAX_PARTITIONS) as usize;
        let per_part = places.len().div_ceil(count).max(1);
        let mut parts = Vec::with_capacity(count);
        for _ in 0..count {
            parts.push(if count == 1 {
                Part::Memory(Vec::new())
            } else {
                Part::File(std::io::BufWriter::with_capacity(1 << 16, tempfile::tempfile()?))
            });
        }
        // Members a block at a time: one thread reads and fingerprints the
        // records while another looks up their households and writes them
        // to their partitions; looked up in a tight loop over the block, so
        // that the processor waits for many lookups' memory at once.
        let mut raw = RawCsv::open(members, encoding)?;
        raw.read_raw(|_, _| ())?;
        let fill = |raw: &mut RawCsv, block: &mut Block| -> std::io::Result<bool> {
            block.bytes.clear();
            block.rows.clear();
            while block.rows.len() < BLOCK_ROWS {
                let read = raw.read_raw(|line, record| {
                    let start = block.bytes.len();
                    block.bytes.extend_from_slice(record);
                    block.rows.push((key(record, members_id), line, start, record.len()));
                })?;
                if read.is_none() {
                    return Ok(false);
                }
            }
            Ok(true)
        };
        let mut found = Vec::with_capacity(BLOCK_ROWS);
        // Some(true): placed; Some(false): a member's household is unknown
        let mut place_block = |block: &Block| -> std::io::Result<bool> {
            found.clear();
            found.extend(block.rows.iter().map(|row| row.0.and_then(|id| places.get(&id).copied())));
            for (&(_, line, start, len), place) in block.rows.iter().zip(&found) {
                let (Some(place), Ok(len32)) = (place, u32::try_from(len)) else { return Ok(false) };
                let record = &block.bytes[start..start + len];
                let mut head = [0u8; HEAD];
                head[..4].copy_from_slice(&place.to_le_bytes());
                head[4..8].copy_from_slice(&len32.to_le_bytes());
                head[8..].copy_from_slice(&line.to_le_bytes());
                match &mut parts[*place as usize / per_part] {
                    Part::Memory(bytes) => {
                        bytes.extend_from_slice(&head);
                        bytes.extend_from_slice(record);
                    }
                    Part::File(file) => {
                        file.write_all(&head)?;
                        file.write_all(record)?;
                    }
                }
            }
            Ok(true)
        };
        let placed = if threads <= 1 {
            let mut block = Block::default();
            loop {
                let more = fill(&mut raw, &mut block)?;
                if !place_block(&block)? {
                    break false;
                }
                if !more {
                    break true;
                }
            }
        } else {
            let (full, blocks) = std::sync::mpsc::sync_channel::<Block>(2);
            let (empty, spare) = std::sync::mpsc::channel::<Block>();
            std::thread::scope(|scope| -> std::io::Result<bool> {
                let reader = std::thread::Builder::new().name("hhrisk-regroup".into()).spawn_scoped(
                    scope,
                    move || -> std::io::Result<()> {
                        loop {
                            let mut block = spare.try_recv().unwrap_or_default();
                            let more = fill(&mut raw, &mut block)?;
                            // a closed channel: the other side stopped
                            if full.send(block).is_err() || !more {
                                return Ok(());
                            }
                        }
                    },
                )?;
                for block in blocks.iter() {
                    match place_block(&block) {
                        Ok(true) => {}
                        other => {
                            drop(blocks);
                            reader
                                .join()
                                .map_err(|_| std::io::Error::other("the regrouping thread failed"))??;
                            return other;
                        }
                    }
                    let _ = empty.send(block);
                }
                reader.join().map_err(|_| std::io::Error::other("the regrouping thread failed"))??;
                Ok(true)
            })?
        };
        if !placed {
            return Ok(None);
        }
        let mut grouped = GroupedCsv {
            parts: parts.into(),
            arena: Vec::new(),
            order: Vec::new(),
            next: 0,
            sorted: Vec::new(),
            held: places.capacity() * 16,
        };
        drop(places);
        grouped.load()?;
        Ok(Some(grouped))
    }

    /// Puts the next partition in order, if there is one.
    fn load(&mut self) -> std::io::Result<bool> {
        use std::io::{Read, Seek};
        let Some(part) = self.parts.pop_front() else { return Ok(false) };
        self.arena.clear();
        match part {
            Part::Memory(bytes) => self.arena = bytes,
            Part::File(file) => {
                let mut file = file.into_inner().map_err(|e| e.into_error())?;
                file.rewind()?;
                file.read_to_end(&mut self.arena)?;
            }
        }
        self.order.clear();
        let mut at = 0;
        while at < self.arena.len() {
            let head = &self.arena[at..at + HEAD];
            let word =
                |r: std::ops::Range<usize>| head[r].iter().rev().fold(0u64, |n, &b| n << 8 | u64::from(b));
            let (place, len, line) = (word(0..4) as u32, word(4..8) as u32, word(8..16));
            self.order.push((place, len, (at + HEAD) as u64, line));
            at += HEAD + len as usize;
        }
        // by place, then where the row was in the file (the partition
        // follows the file): a household's members keep their order
        self.order.sort_unstable_by_key(|&(place, _, start, _)| (place, start));
        // copied in that order, so that the stream reads them one after
        // another (a copy that reads at random runs ahead on many rows at
        // once; the stream, reading under its lock, could not)
        self.sorted.clear();
        self.sorted.reserve(self.arena.len());
        for (_, len, start, _) in &mut self.order {
            let from = *start as usize;
            *start = self.sorted.len() as u64;
            self.sorted.extend_from_slice(&self.arena[from..from + *len as usize]);
        }
        std::mem::swap(&mut self.arena, &mut self.sorted);
        self.next = 0;
        let now = self.arena.capacity()
            + self.sorted.capacity()
            + self.order.capacity() * std::mem::size_of::<(u32, u32, u64, u64)>();
        self.held = self.held.max(now);
        Ok(true)
    }

    /// The most bytes held at once to put the members in order.
    pub fn bytes(&self) -> usize {
        self.held
    }

    /// Appends the next member row, in household order, to `records`; its
    /// line, or `None` at the end.
    pub fn read(&mut self, records: &mut Records) -> std::io::Result<Option<u64>> {
        while self.next == self.order.len() {
            if !self.load()? {
                return Ok(None);
            }
        }
        let (_, len, start, line) = self.order[self.next];
        self.next += 1;
        let start = usize::try_from(start).map_err(std::io::Error::other)?;
        records.push_raw(line, &self.arena[start..start + len as usize])?;
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
        // in memory, and cut into partitions of a few bytes (each a file)
        let read = |threads, partition_bytes| {
            let mut grouped =
                GroupedCsv::group_in(&households, 0, &members, 0, Encoding::Utf8, threads, partition_bytes)
                    .unwrap()
                    .unwrap();
            let mut records = Records::default();
            while grouped.read(&mut records).unwrap().is_some() {}
            assert!(grouped.read(&mut records).unwrap().is_none(), "the end stays the end");
            lines_and_fields(&records)
        };
        let whole = read(1, PARTITION_BYTES);
        assert_eq!(read(1, 1), whole, "partitions change nothing");
        assert_eq!(read(2, 1), whole, "nor a thread of its own");
        assert_eq!(read(2, PARTITION_BYTES), whole);
        let read = whole;
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
        for threads in [1, 2] {
            assert!(GroupedCsv::group(&households, 0, &members, 0, Encoding::Utf8, threads)
                .unwrap()
                .is_none());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
