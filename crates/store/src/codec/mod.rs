//! How stored values are laid out, decided once for every backend: an account's packed facts, the JSON
//! documents of assessments and predictions (compressed when long), what a day's prediction row of an account
//! holds, the bodies of tracking-inbox groups, and exact distinct-user counting. A backend moves these bytes
//! and counts; it does not decide their shape.

use std::borrow::Cow;

pub mod distinct;
pub mod docs;
pub mod facts;
pub mod inbox;
pub mod portable;

/// The first byte of a value [`marked_lz4`] wrote: never the first byte of what the codecs write plain (UTF-8
/// JSON, a pack's format version, an inbox message's kind).
pub(crate) const LZ4_MARK: u8 = 0xFF;

/// `plain` LZ4-compressed behind [`LZ4_MARK`]: the mark, the plain size (four bytes, little-endian) and the
/// block, as `lz4_flex::block::compress_prepend_size` lays the last two out, written in place.
pub(crate) fn marked_lz4(plain: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 1 + 4 + lz4_flex::block::get_maximum_output_size(plain.len())];
    out[0] = LZ4_MARK;
    out[1..5].copy_from_slice(&(plain.len() as u32).to_le_bytes());
    let n = lz4_flex::block::compress_into(plain, &mut out[5..])
        .expect("the buffer has the block's maximum size");
    out.truncate(5 + n);
    out
}

/// The plain bytes of a value that may be [`marked_lz4`]: decompressed when it carries the mark, else itself.
pub(crate) fn unmarked(b: &[u8]) -> Result<Cow<'_, [u8]>, lz4_flex::block::DecompressError> {
    match b.split_first() {
        Some((&LZ4_MARK, block)) => {
            lz4_flex::block::decompress_size_prepended(block).map(Cow::Owned)
        }
        _ => Ok(Cow::Borrowed(b)),
    }
}
