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
/// household order in memory, and handed out, the next one made ready on a
/// thread of its own while this one is read. Memory holds a few partitions
/// (about [`PARTITION_BYTES`] each) and, while members are cut, the
/// households' places (16 bytes a household), whatever the size of the
/// file; putting a partition in order touches memory that fits in a
/// cache, where putting the whole file in order at once read it at random.
pub struct GroupedCsv {
    /// Where the partitions come from.
    source: Source,
    /// The partition being handed out.
    current: Sorted,
    /// Its next record.
    next: usize,
    /// The most bytes held at once.
    held: usize,
}

/// A partition put in order: its records back to back, and for each
/// (place, length, start, line), sorted by place, a household's members in
/// file order.
#[derive(Default)]
struct Sorted {
    arena: Vec<u8>,
    order: Vec<(u32, u32, u64, u64)>,
    /// Buffers kept for the next partition: the records in file order,
    /// and per place its next byte and row.
    heads: Vec<(u32, u32, u64, u64)>,
    slots: Vec<(usize, usize)>,
}

impl Sorted {
    fn bytes(&self) -> usize {
        self.arena.capacity()
            + (self.order.capacity() + self.heads.capacity()) * std::mem::size_of::<(u32, u32, u64, u64)>()
            + self.slots.capacity() * std::mem::size_of::<(usize, usize)>()
    }
}

/// Partitions still to hand out.
enum Source {
    /// Put in order when their turn comes (one thread): the partitions, and
    /// a buffer to read each into.
    Here(std::collections::VecDeque<Part>, Vec<u8>),
    /// Put in order ahead, on a thread of their own: the next ones, and
    /// the way back for buffers done with.
    Ahead(std::sync::mpsc::Receiver<std::io::Result<Sorted>>, std::sync::mpsc::Sender<Sorted>),
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
        // fingerprints read on one thread, put in the table on another
        let fill = |ids: &mut Vec<Option<u64>>| -> std::io::Result<bool> {
            ids.clear();
            while ids.len() < BLOCK_ROWS {
                match raw.read_raw(|_, record| key(record, households_id))? {
                    Some(id) => ids.push(id),
                    None => return Ok(false),
                }
            }
            Ok(true)
        };
        let insert = |ids: &Vec<Option<u64>>| -> std::io::Result<bool> {
            for id in ids {
                let place = u32::try_from(places.len()).map_err(std::io::Error::other)?;
                match id {
                    Some(id) if places.insert(*id, place).is_none() => {}
                    _ => return Ok(false),
                }
            }
            Ok(true)
        };
        if !pipeline(threads, fill, insert)? {
            return Ok(None);
        }
        // partitions of consecutive households, about PARTITION_BYTES each
        let size = std::fs::metadata(members).map_or(0, |m| m.len());
        let count = size.div_ceil(partition_bytes.max(1)).clamp(1, MAX_PARTITIONS) as usize;
        let per_part = places.len().div_ceil(count).max(1);
        // in temporary files, or in memory when there is one partition or
        // no temporary file can be made (a read-only temporary folder): the
        // members are put in order all the same
        let file = || Ok(Part::File(std::io::BufWriter::with_capacity(1 << 16, tempfile::tempfile()?)));
        let files = (count > 1).then(|| (0..count).map(|_| file()).collect::<std::io::Result<Vec<_>>>());
        let mut parts = match files {
            Some(Ok(files)) => files,
            _ => (0..count).map(|_| Part::Memory(Vec::new())).collect(),
        };
        // Members a block at a time: one thread reads and fingerprints the
        // records while another looks up their households and writes them
        // to their partitions; looked up in a tight loop over the block, so
        // that the processor waits for many lookups' memory at once.
        let mut raw = RawCsv::open(members, encoding)?;
        raw.read_raw(|_, _| ())?;
        let read_block = |raw: &mut RawCsv, block: &mut Block| -> std::io::Result<bool> {
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
        let place_block = |block: &Block| -> std::io::Result<bool> {
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
        let fill = |block: &mut Block| read_block(&mut raw, block);
        let placed = pipeline(threads, fill, place_block)?;
        if !placed {
            return Ok(None);
        }
        let places_bytes = places.capacity() * 16;
        drop(places);
        let parts: std::collections::VecDeque<Part> = parts.into();
        let source =
            if threads <= 1 || parts.len() == 1 { Source::Here(parts, Vec::new()) } else { ahead(parts)? };
        let mut grouped = GroupedCsv { source, current: Sorted::default(), next: 0, held: places_bytes };
        grouped.load()?;
        Ok(Some(grouped))
    }

    /// Takes the next partition, in order, if there is one.
    fn load(&mut self) -> std::io::Result<bool> {
        let done = std::mem::take(&mut self.current);
        self.next = 0;
        let next = match &mut self.source {
            Source::Here(parts, read) => match parts.pop_front() {
                Some(part) => sort(part, done, read)?,
                None => return Ok(false),
            },
            Source::Ahead(ready, spent) => {
                let _ = spent.send(done);
                match ready.recv() {
                    Ok(sorted) => sorted?,
                    Err(_) => return Ok(false),
                }
            }
        };
        self.current = next;
        // one partition being handed out, one ready, one being sorted and
        // the buffer it was read into, when made ready ahead
        let copies = if matches!(self.source, Source::Ahead(..)) { 4 } else { 2 };
        self.held = self.held.max(copies * self.current.bytes());
        Ok(true)
    }

    /// The most bytes held at once to put the members in order.
    pub fn bytes(&self) -> usize {
        self.held
    }

    /// Appends the next member row, in household order, to `records`; its
    /// line, or `None` at the end.
    pub fn read(&mut self, records: &mut Records) -> std::io::Result<Option<u64>> {
        while self.next == self.current.order.len() {
            if !self.load()? {
                return Ok(None);
            }
        }
        let (_, len, start, line) = self.current.order[self.next];
        self.next += 1;
        let start = usize::try_from(start).map_err(std::io::Error::other)?;
        records.push_raw(line, &self.current.arena[start..start + len as usize])?;
        Ok(Some(line))
    }
}

/// Runs `fill` and `take` over blocks in turn until `fill` says there is
/// no more (`false`, after filling its last block) or `take` stops
/// (`false`, which is returned): on one thread, or, when `threads` > 1,
/// `fill` on a thread of its own, a few blocks ahead of `take`.
fn pipeline<B: Default + Send>(
    threads: usize,
    mut fill: impl FnMut(&mut B) -> std::io::Result<bool> + Send,
    mut take: impl FnMut(&B) -> std::io::Result<bool>,
) -> std::io::Result<bool> {
    if threads <= 1 {
        let mut block = B::default();
        loop {
            let more = fill(&mut block)?;
            if !take(&block)? {
                return Ok(false);
            }
            if !more {
                return Ok(true);
            }
        }
    }
    let (full, blocks) = std::sync::mpsc::sync_channel::<B>(2);
    let (empty, spare) = std::sync::mpsc::channel::<B>();
    std::thread::scope(|scope| {
        let filler = std::thread::Builder::new().name("hhrisk-regroup".into()).spawn_scoped(
            scope,
            move || -> std::io::Result<()> {
                loop {
                    let mut block = spare.try_recv().unwrap_or_default();
                    let more = fill(&mut block)?;
                    // a closed channel: the other side stopped
                    if full.send(block).is_err() || !more {
                        return Ok(());
                    }
                }
            },
        )?;
        let mut taken = Ok(true);
        for block in blocks.iter() {
            taken = take(&block);
            if !matches!(taken, Ok(true)) {
                break;
            }
            let _ = empty.send(block);
        }
        // the filler stops at its next block once this side is gone
        drop(blocks);
        filler.join().map_err(|_| std::io::Error::other("the regrouping thread failed"))??;
        taken
    })
}

/// Puts partition `part` in order into `into` (its buffers reused),
/// reading it into `read` first.
fn sort(part: Part, mut into: Sorted, read: &mut Vec<u8>) -> std::io::Result<Sorted> {
    use std::io::{Read, Seek};
    read.clear();
    match part {
        Part::Memory(bytes) => *read = bytes,
        Part::File(file) => {
            let mut file = file.into_inner().map_err(|e| e.into_error())?;
            file.rewind()?;
            file.read_to_end(read)?;
        }
    }
    // the records in file order, and the range of places they belong to
    let heads = &mut into.heads;
    heads.clear();
    let (mut low, mut high) = (u32::MAX, 0);
    let mut at = 0;
    while at + HEAD <= read.len() {
        let head = &read[at..at + HEAD];
        let word = |r: std::ops::Range<usize>| head[r].iter().rev().fold(0u64, |n, &b| n << 8 | u64::from(b));
        let (place, len, line) = (word(0..4) as u32, word(4..8) as u32, word(8..16));
        heads.push((place, len, (at + HEAD) as u64, line));
        (low, high) = (low.min(place), high.max(place));
        at += HEAD + len as usize;
    }
    // Counted by place, then each record copied to its place's next slot:
    // in household order, a household's members in file order, in two
    // passes (the places of a partition are a short run of numbers), and
    // laid out so that the stream reads them one after another.
    let slots = &mut into.slots;
    slots.clear();
    if !heads.is_empty() {
        slots.resize((high - low) as usize + 1, (0, 0));
    }
    for &(place, len, _, _) in heads.iter() {
        let slot = &mut slots[(place - low) as usize];
        *slot = (slot.0 + len as usize, slot.1 + 1);
    }
    let (mut byte, mut row) = (0, 0);
    for slot in slots.iter_mut() {
        let (bytes, rows) = *slot;
        *slot = (byte, row);
        (byte, row) = (byte + bytes, row + rows);
    }
    into.arena.clear();
    into.arena.resize(byte, 0);
    into.order.clear();
    into.order.resize(row, (0, 0, 0, 0));
    for &(place, len, from, line) in heads.iter() {
        let slot = &mut slots[(place - low) as usize];
        let (from, len_bytes) = (from as usize, len as usize);
        into.arena[slot.0..slot.0 + len_bytes].copy_from_slice(&read[from..from + len_bytes]);
        into.order[slot.1] = (place, len, slot.0 as u64, line);
        *slot = (slot.0 + len_bytes, slot.1 + 1);
    }
    Ok(into)
}

/// Partitions put in order on a thread of their own, one ahead of the one
/// being read; the thread ends when the partitions do, or when the
/// receiving side is dropped.
fn ahead(mut parts: std::collections::VecDeque<Part>) -> std::io::Result<Source> {
    let (ready, receive) = std::sync::mpsc::sync_channel(1);
    let (spent, reuse) = std::sync::mpsc::channel::<Sorted>();
    std::thread::Builder::new().name("hhrisk-regroup".into()).spawn(move || {
        let mut read = Vec::new();
        while let Some(part) = parts.pop_front() {
            let into = reuse.try_recv().unwrap_or_default();
            let sorted = sort(part, into, &mut read);
            let failed = sorted.is_err();
            if ready.send(sorted).is_err() || failed {
                return;
            }
        }
    })?;
    Ok(Source::Ahead(receive, spent))
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
