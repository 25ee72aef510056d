//! Which bytes a JSON string must escape, found eight bytes at a time, and the escaping
//! itself: shared by the document reader, the writer and entries (which remember
//! whether their values need any).

/// True when `bytes` hold a `"`, a `\` or a control character.
pub(crate) fn needs_escaping(bytes: &[u8]) -> bool {
    first_special(bytes, 0).is_some()
}

/// The position of the first `"`, `\` or control character at or after `from`,
/// eight bytes at a time: the scan that both reading and writing strings spend most of
/// their time in. (memchr's vector search is slower here: most strings are short.)
#[inline]
pub(crate) fn first_special(bytes: &[u8], from: usize) -> Option<usize> {
    match first_special_in(bytes.get(..from + 32).unwrap_or(bytes), from) {
        Some(found) => Some(found),
        None if bytes.len() > from + 32 => first_special_far(bytes, from + 32),
        None => None,
    }
}

/// Long strings (keys, id tokens): memchr's vector search for the quote or backslash,
/// then a check of the run before it that compiles to vector instructions.
fn first_special_far(bytes: &[u8], from: usize) -> Option<usize> {
    let rest = bytes.get(from..)?;
    let end = memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
    let run = rest.get(..end).unwrap_or_default();
    if run.iter().fold(false, |found, &b| found | (b < 0x20)) {
        return run.iter().position(|&b| b < 0x20).map(|i| from + i);
    }
    (end < rest.len()).then_some(from + end)
}

#[inline]
fn first_special_in(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    // Flags each byte that is zero; flags above the lowest true one may be false, so
    // only the lowest is used.
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let rest = bytes.get(from..)?;
    let mut chunks = rest.chunks_exact(8);
    let mut offset = from;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        // Bytes below 0x20 are the ones that underflow when 0x20 is taken away.
        let special = (x.wrapping_sub(ONES * 0x20) & !x & HIGHS)
            | zero_bytes(x ^ (ONES * u64::from(b'"')))
            | zero_bytes(x ^ (ONES * u64::from(b'\\')));
        if special != 0 {
            return Some(offset + special.trailing_zeros() as usize / 8);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
        .map(|i| offset + i)
}

/// Appends `text` escaped as serde_json escapes it, `first` being the position of its
/// first byte that needs escaping.
pub(crate) fn push_escaped(out: &mut String, text: &str, first: usize) {
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate().skip(first) {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // Escaped bytes are ASCII, so these are character boundaries.
        out.push_str(text.get(start..i).unwrap_or_default());
        if escape.is_empty() {
            out.push_str(&format!("\\u{byte:04x}"));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(text.get(start..).unwrap_or_default());
}
