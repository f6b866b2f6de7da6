//! Tests of the readers: encodings, line endings, records, workbooks.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::encoding::*;
use crate::raw::*;
use crate::records::*;
use crate::table::*;

#[test]
fn only_the_columns_and_rows_asked_for_are_kept() {
    let dir = std::env::temp_dir().join(format!("hhrisk-columns-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("members.csv");
    // a byte that is not UTF-8 in a column not asked for is no error
    let mut bytes = b"household_id,note,person_id,name\nA, x ,p1, \xe5\xbc\xa0\xe4\xb8\x89 \n".to_vec();
    bytes.extend_from_slice(b"B,\xff,p2,li\nA,,p3,wang\n");
    std::fs::write(&path, &bytes).unwrap();
    let keep_a = |header: &[String], fields: &[String]| {
        let h = header.iter().position(|c| c == "household_id").unwrap();
        fields[h] == "A"
    };
    let t =
        TextTable::read_columns(&path, "members", Encoding::Utf8, &["name", "household_id", "age"], keep_a)
            .unwrap();
    assert_eq!(t.header, ["name", "household_id"], "asked-for order; `age` is not in the file");
    assert_eq!(t.rows, [(2, vec!["张三".to_string(), "A".into()]), (4, vec!["wang".into(), "A".into()])]);
    // the same byte in a column that is read names its line
    let err = TextTable::read_columns(&path, "members", Encoding::Utf8, &["note"], |_, _| true).unwrap_err();
    assert!(err.to_string().contains('3'), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn read_all(path: &Path) -> Vec<(u64, Vec<String>)> {
    let (mut t, origin) = Table::open(path, "households", Encoding::Auto).unwrap();
    let mut r = csv::ByteRecord::new();
    let mut out = Vec::new();
    while let Some(line) = t.next(&mut r, &origin).unwrap() {
        out.push((line, r.iter().map(|f| String::from_utf8(f.to_vec()).unwrap()).collect()));
    }
    out
}

#[test]
fn gbk_bom_and_utf16_files_decode_to_the_same_records() {
    let dir = std::env::temp_dir().join(format!("hhrisk-text-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = "household_id,village\nH1,东山村\nH2,西河村\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let files = [
        ("utf8.csv", text.as_bytes().to_vec()),
        ("bom.csv", [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat()),
        ("gbk.csv", gbk.into_owned()),
        ("utf16.csv", utf16),
    ];
    let want = vec![
        (1, vec!["household_id".to_string(), "village".into()]),
        (2, vec!["H1".into(), "东山村".into()]),
        (3, vec!["H2".into(), "西河村".into()]),
    ];
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(read_all(&path), want, "{name}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn encodings_are_named_as_offices_name_them() {
    assert_eq!("GBK".parse::<Encoding>(), Ok(Encoding::Gb18030));
    assert_eq!("utf_8".parse::<Encoding>(), Ok(Encoding::Utf8));
    assert!("latin1".parse::<Encoding>().is_err());
    assert!(looks_utf8("东山".as_bytes()) && looks_utf8(&"东山".as_bytes()[..4]));
    assert!(!looks_utf8(&[0xB6, 0xAB, 0x41]));
}

/// A file of `bytes` in a fresh temporary folder.
fn file_of(bytes: &[u8]) -> (PathBuf, PathBuf) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("hhrisk-raw-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("roster.csv");
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

type Read = Vec<(u64, Vec<Vec<u8>>)>;

/// Every record `RawCsv` reads from `bytes`: its line and fields.
fn raw_records(bytes: &[u8]) -> std::io::Result<Read> {
    let (dir, path) = file_of(bytes);
    let result = raw_records_of(&path, Encoding::Utf8);
    std::fs::remove_dir_all(&dir).unwrap();
    result
}

/// Every record `RawCsv` reads from the file at `path`.
fn raw_records_of(path: &Path, encoding: Encoding) -> std::io::Result<Read> {
    let mut raw = RawCsv::open(path, encoding)?;
    let mut records = Records::default();
    let result = loop {
        match raw.read(&mut records) {
            Ok(Some(_)) => {}
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    result.map(|()| lines_and_fields(&records))
}

/// A named pipe cannot seek back over the bytes read to tell the
/// encoding: those are read first, and the records are those of the
/// same bytes in a file (longer than those bytes, with and without a
/// byte-order mark, as UTF-8 and as GB18030).
#[test]
fn a_pipe_reads_as_a_file_does() {
    let rows: String = (0..10_000).map(|i| format!("{i},村{i},x\n")).collect();
    let plain = format!("id,village,note\n{rows}");
    assert!(plain.len() > SNIFF);
    let marked = [&b"\xEF\xBB\xBF"[..], plain.as_bytes()].concat();
    let gb = encoding_rs::GB18030.encode(&plain).0.into_owned();
    for (bytes, encoding) in
        [(plain.as_bytes(), Encoding::Auto), (&marked[..], Encoding::Auto), (&gb[..], Encoding::Gb18030)]
    {
        let (dir, file) = file_of(bytes);
        let pipe = dir.join("pipe.csv");
        let made = std::process::Command::new("mkfifo").arg(&pipe).status().unwrap();
        assert!(made.success(), "mkfifo failed");
        let writer = {
            let (pipe, bytes) = (pipe.clone(), bytes.to_vec());
            std::thread::spawn(move || std::fs::write(pipe, bytes).unwrap())
        };
        let piped = raw_records_of(&pipe, encoding).unwrap();
        writer.join().unwrap();
        let read = raw_records_of(&file, encoding).unwrap();
        assert_eq!(piped.len(), 10_001);
        assert_eq!(piped[0].1[0], b"id", "the byte-order mark is dropped");
        assert_eq!(piped, read);
        assert_eq!(read[10_000].1, [b"9999".to_vec(), "村9999".as_bytes().to_vec(), b"x".to_vec()]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// Each record's line and fields.
fn lines_and_fields(records: &Records) -> Read {
    (0..records.len())
        .map(|r| {
            let (line, data, ends) = records.get(r);
            let fields = crate::records::Fields { data, ends };
            (line, (0..fields.len()).map(|i| fields.get(i).unwrap().to_vec()).collect())
        })
        .collect()
}

/// The fields of each record as the csv crate reads them (the
/// reference for fields; its lines are off by one after each CRLF,
/// which it reads as two line breaks, `\r` ending the record and `\n`
/// starting the next).
fn csv_fields(bytes: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    reader.byte_records().map(|r| r.unwrap().iter().map(<[u8]>::to_vec).collect()).collect()
}

/// Records longer than `LONG_RECORD` have their commas counted first:
/// the same fields, and a record with no comma takes one end, not one a
/// byte (a file with no line breaks would otherwise take eight times
/// its size).
#[test]
fn long_records_are_cut_the_same_and_take_room_for_their_fields() {
    let wide = format!("{},{}", "x".repeat(LONG_RECORD), "y,".repeat(LONG_RECORD));
    let flat = "z".repeat(100 * LONG_RECORD);
    let bytes = format!("a,b\n{wide}\n{flat}\n");
    assert_eq!(
        raw_records(bytes.as_bytes()).unwrap().into_iter().map(|(_, f)| f).collect::<Vec<_>>(),
        csv_fields(bytes.as_bytes())
    );
    let mut records = Records::default();
    records.push_unquoted(1, flat.as_bytes());
    assert_eq!(records.get(0).2, &[flat.len()][..]);
    assert!(records.ends.len() <= 1024, "{} ends kept for one field", records.ends.len());
}

#[test]
fn raw_records_match_the_csv_crate_and_lines_count_line_feeds() {
    let files: [(&[u8], &[u64]); 7] = [
        (b"a,b,c\n1,2,3\n4,,6\n", &[1, 2, 3]),
        (b"a,b,c\r\n1,2,3\r\n4,,6", &[1, 2, 3]),
        (b"\xEF\xBB\xBFa,b\n1,2\n", &[1, 2]),
        (b"a,b\n\"x,y\",\"he said \"\"no\"\"\"\n\"two\nlines\",z\n3,4\n", &[1, 2, 3, 5]),
        (b"a,b\r\n\"x\r\ny\",1\r\n2,3\r\n", &[1, 2, 4]),
        (b"a\n\"\"\n,\n,,\n", &[1, 2, 3, 4]),
        (b"", &[]),
    ];
    for (bytes, lines) in files {
        let read = raw_records(bytes).unwrap();
        let text = String::from_utf8_lossy(bytes);
        assert_eq!(read.iter().map(|r| r.0).collect::<Vec<_>>(), lines, "{text:?}");
        assert_eq!(read.into_iter().map(|r| r.1).collect::<Vec<_>>(), csv_fields(bytes), "{text:?}");
    }
}

#[test]
fn records_after_blank_lines_get_their_own_line() {
    // (the csv crate reports such a record at the first blank line)
    let lf = raw_records(b"a,b\n\n\n1,2\n\n3,4\n\n").unwrap();
    let crlf = raw_records(b"a,b\r\n\r\n\r\n1,2\r\n\r\n3,4\r\n").unwrap();
    for read in [lf, crlf] {
        let lines: Vec<u64> = read.iter().map(|r| r.0).collect();
        assert_eq!(lines, [1, 4, 6]);
        assert_eq!(read[2].1, [b"3".to_vec(), b"4".to_vec()]);
    }
}

#[test]
fn lines_ending_in_a_bare_carriage_return_read_as_line_feeds() {
    let read = raw_records(b"household_id,village\rH1,x\rH2,\"y\rz\"\r").unwrap();
    let lines: Vec<u64> = read.iter().map(|r| r.0).collect();
    assert_eq!(lines, [1, 2, 3]);
    assert_eq!(read[2].1, [b"H2".to_vec(), b"y\nz".to_vec()]);
    // a carriage return inside quotes, further down, is data
    let read = raw_records(b"a,b\n\"x\ry\",1\n").unwrap();
    assert_eq!(read[1].1[0], b"x\ry");
}

proptest::proptest! {
    /// Field ends found eight bytes at a time are where the commas
    /// are, whatever the record's length and where its commas fall.
    #[test]
    fn field_ends_are_the_commas(raw in "[a,,é0]{0,40}") {
        let raw = raw.as_bytes();
        let mut ends = vec![0; raw.len() + 1];
        let n = field_ends(raw, &mut ends);
        let mut expected: Vec<usize> = (0..raw.len()).filter(|&i| raw[i] == b',').collect();
        expected.push(raw.len());
        proptest::prop_assert_eq!(&ends[..n], &expected[..]);
    }

    #[test]
    fn raw_records_agree_with_the_csv_crate_on_any_written_table(
        rows in proptest::collection::vec(
            proptest::collection::vec("[a-z0-9 ,\"\r\n东]{0,5}", 1..5), 0..12),
        crlf: bool,
    ) {
        let terminator = if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') };
        let mut writer = csv::WriterBuilder::new().flexible(true).terminator(terminator).from_writer(Vec::new());
        // each record's line: one more than the line feeds before it
        let mut lines = Vec::new();
        for row in &rows {
            writer.flush().unwrap();
            lines.push(1 + writer.get_ref().iter().filter(|&&b| b == b'\n').count() as u64);
            writer.write_record(row).unwrap();
        }
        let bytes = writer.into_inner().unwrap();
        let read = raw_records(&bytes);
        // a header holding a carriage return is refused; any other
        // table reads as the csv crate reads it, at the lines counted
        if rows.first().is_some_and(|h| h.iter().any(|c| c.contains('\r'))) {
            proptest::prop_assert!(read.is_err());
        } else {
            let read = read.unwrap();
            proptest::prop_assert_eq!(read.iter().map(|r| r.0).collect::<Vec<_>>(), lines);
            proptest::prop_assert_eq!(read.into_iter().map(|r| r.1).collect::<Vec<_>>(), csv_fields(&bytes));
        }
    }
}

// Line endings, open quotes and workbook limits.

/// A zip archive of one stored part whose headers declare `size`
/// bytes unpacked (and hold none): all a reader of the central
/// directory sees.
fn zip_declaring(name: &str, size: u32) -> Vec<u8> {
    let n = name.len() as u16;
    let mut z = Vec::new();
    let le16 = |v: u16| v.to_le_bytes();
    let le32 = |v: u32| v.to_le_bytes();
    // local file header
    z.extend(le32(0x0403_4b50));
    z.extend(le16(20));
    z.extend(le16(0));
    z.extend(le16(0)); // stored
    z.extend([0u8; 4]); // time, date
    z.extend(le32(0)); // crc
    z.extend(le32(0)); // compressed size
    z.extend(le32(size)); // uncompressed size
    z.extend(le16(n));
    z.extend(le16(0));
    z.extend(name.as_bytes());
    let central = z.len() as u32;
    z.extend(le32(0x0201_4b50));
    z.extend(le16(20));
    z.extend(le16(20));
    z.extend(le16(0));
    z.extend(le16(0));
    z.extend([0u8; 4]);
    z.extend(le32(0));
    z.extend(le32(0));
    z.extend(le32(size));
    z.extend(le16(n));
    z.extend(le16(0)); // extra
    z.extend(le16(0)); // comment
    z.extend(le16(0)); // disk
    z.extend(le16(0)); // internal attributes
    z.extend(le32(0)); // external attributes
    z.extend(le32(0)); // local header offset
    z.extend(name.as_bytes());
    let central_size = z.len() as u32 - central;
    z.extend(le32(0x0605_4b50));
    z.extend(le16(0));
    z.extend(le16(0));
    z.extend(le16(1));
    z.extend(le16(1));
    z.extend(le32(central_size));
    z.extend(le32(central));
    z.extend(le16(0));
    z
}

#[test]
fn a_workbook_that_unpacks_past_the_limit_is_refused_before_unpacking() {
    let dir = std::env::temp_dir().join(format!("hhrisk-zip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bomb.xlsx");
    std::fs::write(&path, zip_declaring("xl/worksheets/sheet1.xml", 3 << 30)).unwrap();
    let e = check_unpacked_size(&path).unwrap_err();
    assert!(e.starts_with("the workbook unpacks to 3072 MiB, over the limit of 2048 MiB"), "{e}");
    let e = Table::open(&path, "households", Encoding::Auto).err().unwrap().to_string();
    assert!(e.contains("unpacks to 3072 MiB"), "{e}");
    std::fs::write(&path, zip_declaring("xl/worksheets/sheet1.xml", 1 << 20)).unwrap();
    assert!(check_unpacked_size(&path).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}

fn through_bounded(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    // small reads, so that quotes fall on both sides of a boundary
    let mut r = Bounded::new(bytes);
    let mut buf = [0u8; 3];
    loop {
        match r.read(&mut buf)? {
            0 => return Ok(out),
            k => out.extend_from_slice(&buf[..k]),
        }
    }
}

#[test]
fn a_quote_left_open_is_named_once_and_quotes_in_text_are_text() {
    let err = through_bounded(b"a,b\n1,\"x\n2,y\n3,z\n").unwrap_err();
    assert!(err.to_string().starts_with("line 2: a quote (\") opens there and is never closed"), "{err}");
    // a quote inside an unquoted cell is text; doubled quotes inside
    // quotes are one quote; a quoted cell may span lines
    for fine in [
        &b"a,b\n1,12\" TV\n2,y\n"[..],
        b"a,b\n1,\"say \"\"hi\"\"\"\n2,\"two\nlines\"\n",
        b"\"a\",b\n",
        b"\xEF\xBB\xBF\"a\",b\n1,2\n",
        // a quote after a character whose last byte is 0xBF (\u{53BF})
        "a,b\n1,某县\"x\n2,y\n".as_bytes(),
        // a doubled quote in unquoted text
        b"a,b\n1,12\"\" TV\n2,y\n",
        // a zero-width no-break space inside a cell
        "a,b\n1,x\u{FEFF}y\n".as_bytes(),
    ] {
        assert_eq!(through_bounded(fine).unwrap(), fine, "{}", String::from_utf8_lossy(fine));
    }
    // the roster reader takes a quote anywhere as opening: a stray one
    // there is named, not a cascade
    let mut r = Bounded::for_rosters(&b"a,b\n1,12\" TV\n2,y\n"[..]);
    let mut sink = Vec::new();
    let err = r.read_to_end(&mut sink).unwrap_err();
    assert!(err.to_string().starts_with("line 2: a quote"), "{err}");
}

/// Outcomes, returns and scores files are read by [`TextTable`]: the
/// same table whatever the line endings (LF, CRLF as Excel on Windows
/// saves, CR alone as old Mac software did), with the lines named
/// alike.
#[test]
fn every_line_ending_reads_the_same_table() {
    let dir = std::env::temp_dir().join(format!("hhrisk-line-ends-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lf = "household_id,verified_need,note\nH1,1,\"two\nlines\"\nH2,0,x\n";
    let mut tables = Vec::new();
    for (name, text) in
        [("lf", lf.to_string()), ("crlf", lf.replace('\n', "\r\n")), ("cr", lf.replace('\n', "\r"))]
    {
        let path = dir.join(format!("{name}.csv"));
        std::fs::write(&path, text).unwrap();
        for sheet_reader in [true, false] {
            let t = if sheet_reader {
                TextTable::read(&path, "outcomes", Encoding::Auto).unwrap()
            } else {
                TextTable::read_columns(
                    &path,
                    "outcomes",
                    Encoding::Auto,
                    &["household_id", "verified_need", "note"],
                    |_, _| true,
                )
                .unwrap()
            };
            let cells: Vec<Vec<String>> = t.rows.iter().map(|(_, r)| r.clone()).collect();
            tables.push((name, t.header.clone(), cells, t.rows.iter().map(|(l, _)| *l).collect::<Vec<_>>()));
        }
    }
    let want_cells: Vec<Vec<String>> =
        vec![vec!["H1".into(), "1".into(), "two\nlines".into()], vec!["H2".into(), "0".into(), "x".into()]];
    for (name, header, cells, lines) in &tables {
        assert_eq!(header, &["household_id", "verified_need", "note"], "{name}");
        let cells: Vec<Vec<String>> = cells
            .iter()
            .map(|r| r.iter().map(|c| c.replace("\r\n", "\n").replace('\r', "\n")).collect())
            .collect();
        assert_eq!(cells, want_cells, "{name}");
        assert_eq!(lines, &[2, 4], "{name}: lines");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An OpenDocument spreadsheet whose `members` sheet holds `rows` (the
/// XML of its `table:table-row` elements), as LibreOffice lays it out.
fn ods_with(dir: &Path, rows: &str) -> PathBuf {
    use std::io::Write;
    let path = dir.join("roster.ods");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("mimetype", stored).unwrap();
    zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet").unwrap();
    zip.start_file("META-INF/manifest.xml", stored).unwrap();
    zip.write_all(
        br#"<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#,
    )
    .unwrap();
    zip.start_file("content.xml", stored).unwrap();
    write!(
        zip,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="members">{rows}</table:table></office:spreadsheet></office:body></office:document-content>"#
    )
    .unwrap();
    zip.finish().unwrap();
    path
}

#[test]
fn an_opendocument_sheet_declaring_a_huge_grid_is_refused_before_it_is_built() {
    let dir = std::env::temp_dir().join(format!("hhrisk-ods-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cell = |text: &str| {
        format!(r#"<table:table-cell office:value-type="string"><text:p>{text}</text:p></table:table-cell>"#)
    };
    // a sheet as LibreOffice saves it: empty cells to the right and empty
    // rows below, repeated, are no part of the grid
    let normal = format!(
        r#"<table:table-row>{}{}<table:table-cell table:number-columns-repeated="1022"/></table:table-row><table:table-row>{}{}<table:table-cell table:number-columns-repeated="1022"/></table:table-row><table:table-row table:number-rows-repeated="1048574"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>"#,
        cell("household_id"),
        cell("age"),
        cell("H001"),
        cell("70"),
    );
    let path = ods_with(&dir, &normal);
    assert_eq!(check_ods_grid(&path), Ok(()));
    let (mut table, origin) = Table::open(&path, "members", Encoding::Auto).unwrap();
    let mut record = csv::ByteRecord::new();
    assert_eq!(table.next(&mut record, &origin).unwrap(), Some(1));
    assert_eq!(record.iter().collect::<Vec<_>>(), [&b"household_id"[..], b"age"]);
    assert_eq!(table.next(&mut record, &origin).unwrap(), Some(2));
    assert_eq!(record.iter().collect::<Vec<_>>(), [&b"H001"[..], b"70"]);
    // a few bytes declaring a filled cell 16,000 columns away, and a
    // million rows of one 1,000 columns wide: refused, never built
    let far = format!(
        r#"<table:table-row>{}<table:table-cell table:number-columns-repeated="15999"/>{}</table:table-row>"#,
        cell("a"),
        cell("b")
    );
    let e = Table::open(&ods_with(&dir, &far), "members", Encoding::Auto).err().unwrap().to_string();
    assert!(e.contains("more than 10000 columns"), "{e}");
    let tall = format!(
        r#"<table:table-row table:number-rows-repeated="1000000">{}<table:table-cell table:number-columns-repeated="998"/>{}</table:table-row>"#,
        cell("a"),
        cell("b")
    );
    let path = ods_with(&dir, &tall);
    assert!(std::fs::metadata(&path).unwrap().len() < 5_000);
    let e = Table::open(&path, "members", Encoding::Auto).err().unwrap().to_string();
    assert!(e.contains("sheet \"members\": 1000000 rows of 1000 columns: more than 50000000 fields"), "{e}");
    // calamine builds every sheet as it opens the workbook: reading
    // another sheet is refused the same
    let e = Table::open(&path, "households", Encoding::Auto).err().unwrap().to_string();
    assert!(e.contains("sheet \"members\": 1000000 rows"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
