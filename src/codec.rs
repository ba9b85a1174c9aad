//! A small binary encoding for snapshots: little-endian integers, length-prefixed
//! bytes, and a reader that reports the offset of anything it cannot decode.
//!
//! The same writer and reader have a compact form, for values kept at rest in
//! memory (the Redis module's member values): there every integer wider than a byte
//! is a LEB128 varint, so small ids, counts and sequence numbers take a byte and an
//! instant six. Which form a buffer holds is up to its caller to know.

use std::fmt;

/// Appends values to a byte buffer.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
    compact: bool,
}

impl Writer {
    /// A writer of the compact form: integers as varints.
    #[cfg(any(test, feature = "server"))]
    pub(crate) fn compact() -> Self {
        Self::compact_into(Vec::new())
    }

    /// A writer of the compact form appending to `buf` (a scratch buffer reused
    /// from one value to the next).
    #[cfg(any(test, feature = "server"))]
    pub(crate) fn compact_into(buf: Vec<u8>) -> Self {
        Writer { buf, compact: true }
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    #[inline]
    pub(crate) fn u32(&mut self, v: u32) {
        if self.compact {
            self.varint(u64::from(v));
        } else {
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
    }

    #[inline]
    pub(crate) fn u64(&mut self, v: u64) {
        if self.compact {
            self.varint(v);
        } else {
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
    }

    /// Seven bits a byte, low bits first; the high bit says another byte follows.
    #[inline]
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    pub(crate) fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }

    pub(crate) fn opt_u64(&mut self, v: Option<u64>) {
        match v {
            Some(x) => {
                self.u8(1);
                self.u64(x);
            }
            None => self.u8(0),
        }
    }

    pub(crate) fn str(&mut self, s: &str) {
        self.len(s.len());
        self.buf.extend_from_slice(s.as_bytes());
    }

    /// A collection length.
    pub(crate) fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// A value that could not be decoded, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError {
    pub(crate) offset: usize,
    pub(crate) what: &'static str,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.offset)
    }
}

/// Reads values written by [`Writer`].
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf` within the whole input, for error messages.
    base: usize,
    compact: bool,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], base: usize) -> Self {
        Reader {
            buf,
            pos: 0,
            base,
            compact: false,
        }
    }

    /// A reader of the compact form ([`Writer::compact`]).
    #[cfg(any(test, feature = "server"))]
    pub(crate) fn compact(buf: &'a [u8], base: usize) -> Self {
        Reader {
            compact: true,
            ..Reader::new(buf, base)
        }
    }

    pub(crate) fn fail<T>(&self, what: &'static str) -> Result<T, DecodeError> {
        Err(DecodeError {
            offset: self.base + self.pos,
            what,
        })
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        match self.buf.get(self.pos..self.pos.saturating_add(n)) {
            Some(s) if self.pos.checked_add(n).is_some() => {
                self.pos += n;
                Ok(s)
            }
            _ => self.fail("unexpected end of data"),
        }
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        if self.compact {
            let v = self.varint()?;
            return u32::try_from(v).or_else(|_| self.fail("integer too large"));
        }
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }

    #[inline]
    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        if self.compact {
            return self.varint();
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }

    /// A varint as [`Writer`] writes it: at most ten bytes, no value past `u64::MAX`,
    /// and no trailing zero byte (one value, one encoding).
    #[inline]
    fn varint(&mut self) -> Result<u64, DecodeError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let mut v = 0u64;
        for (i, &b) in rest.iter().take(10).enumerate() {
            if i == 9 && b > 1 {
                return self.fail("integer too large");
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                if b == 0 && i > 0 {
                    return self.fail("integer written with extra bytes");
                }
                self.pos += i + 1;
                return Ok(v);
            }
        }
        if rest.len() < 10 {
            self.pos = self.buf.len();
            return self.fail("unexpected end of data");
        }
        self.fail("integer too large")
    }

    pub(crate) fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => self.fail("invalid boolean"),
        }
    }

    pub(crate) fn opt_u64(&mut self) -> Result<Option<u64>, DecodeError> {
        if self.bool()? {
            Ok(Some(self.u64()?))
        } else {
            Ok(None)
        }
    }

    /// A collection length, refused when it cannot fit in the remaining bytes at
    /// `min_item` bytes an item (so corrupt lengths never allocate wildly).
    pub(crate) fn len(&mut self, min_item: usize) -> Result<usize, DecodeError> {
        let n = self.u64()?;
        let remaining = (self.buf.len() - self.pos) as u64;
        // In the compact form each integer of an item may be as short as a byte: an
        // item of k integers and m bytes takes at least k + m >= (8k + m) / 8 bytes.
        let min_item = if self.compact {
            min_item.div_ceil(8).max(1)
        } else {
            min_item.max(1)
        };
        if n.saturating_mul(min_item as u64) > remaining {
            return self.fail("collection length exceeds the data");
        }
        Ok(n as usize)
    }

    pub(crate) fn str(&mut self) -> Result<String, DecodeError> {
        let n = self.len(1)?;
        let start = self.pos;
        let bytes = self.take(n)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(DecodeError {
                offset: self.base + start,
                what: "invalid UTF-8 text",
            }),
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.pos == self.buf.len()
    }
}

/// An instant the engine acted at, which is never after [`crate::Timestamp::MAX`].
pub(crate) fn instant(r: &mut Reader<'_>) -> Result<u64, DecodeError> {
    let t = r.u64()?;
    if t > crate::time::Timestamp::MAX.as_millis() {
        return r.fail("instant after Timestamp::MAX");
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        let mut w = Writer::default();
        w.u8(7);
        w.u32(70_000);
        w.u64(u64::MAX);
        w.opt_u64(Some(3));
        w.opt_u64(None);
        w.str("héllo");
        w.bool(true);
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes, 0);
        assert_eq!(r.u8().unwrap(), 7);
        assert_eq!(r.u32().unwrap(), 70_000);
        assert_eq!(r.u64().unwrap(), u64::MAX);
        assert_eq!(r.opt_u64().unwrap(), Some(3));
        assert_eq!(r.opt_u64().unwrap(), None);
        assert_eq!(r.str().unwrap(), "héllo");
        assert!(r.bool().unwrap());
        assert!(r.is_done());
    }

    #[test]
    fn the_compact_form_round_trips_every_width() {
        let values = [0, 1, 127, 128, 300, 1 << 41, u64::from(u32::MAX), u64::MAX];
        let mut w = Writer::compact();
        for v in values {
            w.u64(v);
        }
        w.u32(u32::MAX);
        w.len(3);
        w.str("héllo");
        let bytes = w.into_bytes();
        // Small numbers take a byte, an instant of today six.
        assert_eq!(bytes[0], 0);
        assert_eq!(bytes[1], 1);
        let mut r = Reader::compact(&bytes, 0);
        for v in values {
            assert_eq!(r.u64().unwrap(), v);
        }
        assert_eq!(r.u32().unwrap(), u32::MAX);
        assert_eq!(r.len(8).unwrap(), 3);
        assert_eq!(r.str().unwrap(), "héllo");
        assert!(r.is_done());
        let mut one = Writer::compact();
        one.u64(1_764_000_000_000);
        assert_eq!(one.bytes().len(), 6);
    }

    #[test]
    fn compact_integers_that_overflow_or_pad_are_errors() {
        let too_large = [0xff; 10];
        assert_eq!(
            Reader::compact(&too_large, 0).u64().unwrap_err().what,
            "integer too large"
        );
        let eleven = [0x80; 11];
        assert!(Reader::compact(&eleven, 0).u64().is_err());
        let padded = [0x81, 0x00];
        assert_eq!(
            Reader::compact(&padded, 0).u64().unwrap_err().what,
            "integer written with extra bytes"
        );
        let mut w = Writer::compact();
        w.u64(u64::from(u32::MAX) + 1);
        assert_eq!(
            Reader::compact(w.bytes(), 0).u32().unwrap_err().what,
            "integer too large"
        );
        assert!(Reader::compact(&[0x80], 0).u64().is_err());
    }

    #[test]
    fn truncation_and_wild_lengths_are_errors_with_offsets() {
        let mut r = Reader::new(&[1, 2, 3], 100);
        assert_eq!(r.u64().unwrap_err().offset, 100);
        let mut w = Writer::default();
        w.len(1 << 40);
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes, 0);
        assert_eq!(
            r.len(8).unwrap_err().what,
            "collection length exceeds the data"
        );
    }
}
