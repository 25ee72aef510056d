//! Parses the cache document straight into entries. The layout a cache has (an object
//! of sections, of entries, of mostly string fields) is read here, with strings found
//! eight bytes at a time and copied once into their entry; every other value (numbers,
//! arrays, unknown sections…) is handed to serde_json, so the grammar accepted is
//! serde_json's.

use std::borrow::Cow;

use serde::de::Error as _;
use serde_json::Value;

use crate::entry::{Entry, FIELD_COUNT, Field, NAMES};
use crate::entry_key::EntryKey;
use crate::json_escape::{first_special, needs_escaping};
use crate::section::{Section, SectionMap, Sections};

type Result<T> = std::result::Result<T, serde_json::Error>;

/// The known sections, and the unknown ones in file order.
pub(crate) type Document = (Sections, Vec<(String, Value)>);

/// Parses a whole document (not empty).
pub(crate) fn document(text: &str) -> Result<Document> {
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        scratch: Entry::default(),
        next_field: [None; FIELD_COUNT + 1],
    };
    let document = reader.document()?;
    reader.skip_whitespace();
    if reader.pos < reader.bytes.len() {
        return Err(reader.error("trailing characters"));
    }
    Ok(document)
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Every entry is built here, then moved out in an allocation of the right size.
    scratch: Entry,
    /// For each field (and [`START`]), the field that followed it in the last entry.
    next_field: [Option<Field>; FIELD_COUNT + 1],
}

/// The start of an entry, in [`Reader::next_field`].
const START: usize = FIELD_COUNT;

/// Longer keys (there are none in practice) get an allocation of their own.
const MAX_SHARED_KEY: usize = 4096;

impl<'a> Reader<'a> {
    fn document(&mut self) -> Result<Document> {
        let mut sections = Sections::default();
        let mut unknown = Vec::new();
        self.object(|reader, name, _| {
            match Section::from_name(&name) {
                Some(section) => sections[section as usize] = reader.section()?,
                None => unknown.push((name.into_owned(), reader.other_value()?)),
            }
            Ok(())
        })?;
        Ok((sections, unknown))
    }

    fn section(&mut self) -> Result<SectionMap> {
        let mut entries = SectionMap::default();
        self.object(|reader, key, key_clean| {
            let (key, mut entry) = reader.entry(&key)?;
            entry.set_key_escape_free(key_clean);
            // A key given twice keeps its first text (and the values loaded with it): equal,
            // and only as long as the file was.
            entries.insert(key, entry);
            Ok(())
        })?;
        Ok(entries)
    }

    /// An entry, stored with its key when the key is short (as keys are): values
    /// are then within the 16-bit reach of the entry's slots.
    fn entry(&mut self, key: &str) -> Result<(EntryKey, Entry)> {
        let key_len = if key.len() <= MAX_SHARED_KEY {
            self.scratch.start_with_key(key);
            key.len()
        } else {
            self.scratch.clear();
            0
        };
        if !self.open("expected a JSON object (a cache entry)")? {
            self.members()?;
        }
        let (shared_key, entry) = self.scratch.finish_with_key(key_len);
        let key = if key_len == key.len() {
            shared_key
        } else {
            EntryKey::from(key.to_owned())
        };
        Ok((key, entry))
    }

    /// The members of an entry, into `scratch`.
    fn members(&mut self) -> Result<()> {
        let mut previous = START;
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a member name"));
            }
            match self.next_field[previous].filter(|f| self.at_name(*f)) {
                Some(field) => {
                    self.colon()?;
                    self.field_value(field)?;
                    previous = field as usize;
                }
                None => {
                    let (name, _) = self.string()?;
                    self.colon()?;
                    match Field::from_name(&name) {
                        Some(field) => {
                            self.field_value(field)?;
                            self.next_field[previous] = Some(field);
                            previous = field as usize;
                        }
                        None => {
                            let value = self.other_value()?;
                            self.scratch.push_extra(name.into_owned(), value);
                        }
                    }
                }
            }
            if !self.next_member()? {
                return Ok(());
            }
        }
    }

    #[inline]
    fn field_value(&mut self, field: Field) -> Result<()> {
        match self.peek() {
            Some(b'"') => {
                let (value, clean) = self.string()?;
                self.scratch.set_parsed(field, &value, clean);
            }
            Some(b'n') => {
                self.literal("null")?;
                self.scratch.set_null(field);
            }
            _ => {
                let value = self.other_value()?;
                self.scratch.set_value(field, value);
            }
        }
        Ok(())
    }

    /// At `"`: whether `field`'s name follows, unescaped; if so, moves past it. Entries
    /// of a section have their fields in the same order, so guessing the name from the
    /// one before saves scanning it.
    #[inline]
    fn at_name(&mut self, field: Field) -> bool {
        let name = NAMES[field as usize].as_bytes();
        let start = self.pos + 1;
        let end = start + name.len();
        let found = self
            .bytes
            .get(start..end)
            .is_some_and(|text| short_eq(text, name))
            && self.bytes.get(end) == Some(&b'"');
        if found {
            self.pos = end + 1;
        }
        found
    }

    /// Reads `{ "name": value, … }`, the value by `member` (called with the reader at
    /// the value's first byte, and whether the name needs no escaping).
    fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, Cow<'a, str>, bool) -> Result<()>,
    ) -> Result<()> {
        if self.open("expected a JSON object")? {
            return Ok(());
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a member name"));
            }
            let (name, clean) = self.string()?;
            self.colon()?;
            member(self, name, clean)?;
            if !self.next_member()? {
                return Ok(());
            }
        }
    }

    /// Moves past an object's `{`; true when the object is empty (then past its `}`).
    fn open(&mut self, expected: &str) -> Result<bool> {
        self.skip_whitespace();
        if self.peek() != Some(b'{') {
            return Err(self.error(expected));
        }
        self.pos += 1;
        self.skip_whitespace();
        let empty = self.peek() == Some(b'}');
        if empty {
            self.pos += 1;
        }
        Ok(empty)
    }

    /// Moves past the `:` after a member's name, to its value.
    #[inline(always)]
    fn colon(&mut self) -> Result<()> {
        self.skip_whitespace();
        if self.peek() != Some(b':') {
            return Err(self.error("expected `:`"));
        }
        self.pos += 1;
        self.skip_whitespace();
        Ok(())
    }

    /// After a member's value: true when another member follows (moved to its name),
    /// false at the object's end (moved past it).
    #[inline(always)]
    fn next_member(&mut self) -> Result<bool> {
        self.skip_whitespace();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                self.skip_whitespace();
                Ok(true)
            }
            Some(b'}') => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(self.error("expected `,` or `}`")),
        }
    }

    /// A string at `"`: borrowed when it has no escapes, and whether it needs none
    /// when written back.
    fn string(&mut self) -> Result<(Cow<'a, str>, bool)> {
        let start = self.pos + 1;
        let end = first_special(self.bytes, start).ok_or_else(|| self.eof())?;
        if self.bytes.get(end) == Some(&b'"') {
            self.pos = end + 1;
            // Both ends are at ASCII quotes, so on character boundaries.
            let text = self.text.get(start..end).ok_or_else(|| self.eof())?;
            return Ok((Cow::Borrowed(text), true));
        }
        let mut decoded = String::from(self.text.get(start..end).unwrap_or_default());
        self.pos = end;
        loop {
            match self.bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    let clean = !needs_escaping(decoded.as_bytes());
                    return Ok((Cow::Owned(decoded), clean));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(&mut decoded)?;
                }
                Some(_) => return Err(self.error("control character in a string")),
                None => return Err(self.eof()),
            }
            let run_end = first_special(self.bytes, self.pos).ok_or_else(|| self.eof())?;
            decoded.push_str(self.text.get(self.pos..run_end).unwrap_or_default());
            self.pos = run_end;
        }
    }

    /// The escape after a `\`.
    fn escape(&mut self, out: &mut String) -> Result<()> {
        let byte = self
            .bytes
            .get(self.pos)
            .copied()
            .ok_or_else(|| self.eof())?;
        self.pos += 1;
        let plain = match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => self.unicode_escape()?,
            _ => return Err(self.error("invalid escape")),
        };
        out.push(plain);
        Ok(())
    }

    /// `XXXX` after `\u`, or a surrogate pair `XXXX\uXXXX`.
    fn unicode_escape(&mut self) -> Result<char> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                    return Err(self.error("lone leading surrogate in hex escape"));
                }
                self.pos += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.error("lone leading surrogate in hex escape"));
                }
                0x10000 + ((u32::from(first) - 0xD800) << 10) + (u32::from(second) - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.error("lone trailing surrogate in hex escape")),
            other => u32::from(other),
        };
        char::from_u32(code).ok_or_else(|| self.error("invalid unicode code point"))
    }

    fn hex4(&mut self) -> Result<u16> {
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.error("invalid hex escape"))?;
        self.pos += 4;
        u16::from_str_radix(digits, 16).map_err(|_| self.error("invalid hex escape"))
    }

    fn literal(&mut self, word: &str) -> Result<()> {
        if self.bytes.get(self.pos..self.pos + word.len()) != Some(word.as_bytes()) {
            return Err(self.error("expected a value"));
        }
        self.pos += word.len();
        Ok(())
    }

    /// Any value, by serde_json (the rare values that are not strings).
    fn other_value(&mut self) -> Result<Value> {
        let rest = self.text.get(self.pos..).unwrap_or_default();
        let mut values = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        match values.next() {
            Some(Ok(value)) => {
                self.pos += values.byte_offset();
                Ok(value)
            }
            Some(Err(error)) => Err(self.error(&error.to_string())),
            None => Err(self.eof()),
        }
    }

    #[inline(always)]
    fn skip_whitespace(&mut self) {
        let mut pos = self.pos;
        while let Some(&byte) = self.bytes.get(pos) {
            match byte {
                // Indentation: a cache is mostly indented lines.
                b' ' if self.bytes.get(pos..pos + 4) == Some(b"    ") => pos += 4,
                b' ' | b'\n' | b'\r' | b'\t' => pos += 1,
                _ => break,
            }
        }
        self.pos = pos;
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eof(&self) -> serde_json::Error {
        self.error("EOF while parsing")
    }

    /// An error naming where it happened (as serde_json's do).
    fn error(&self, message: &str) -> serde_json::Error {
        let before = self.bytes.get(..self.pos).unwrap_or(self.bytes);
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let column = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
        serde_json::Error::custom(format!("{message} at line {line} column {column}"))
    }
}

/// `a == b`, a word at a time: for the short slices compared here, a call to `memcmp`
/// costs more than the comparison.
fn short_eq(a: &[u8], b: &[u8]) -> bool {
    let word = |s: &[u8], at: usize| {
        s.get(at..at + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map(u64::from_le_bytes)
    };
    let len = a.len();
    if len != b.len() {
        return false;
    }
    if len < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let mut at = 0;
    while at + 8 < len {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 8;
    }
    // The last eight bytes, overlapping the words before when the length is not a
    // multiple of eight.
    word(a, len - 8) == word(b, len - 8)
}
