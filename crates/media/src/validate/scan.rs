//! A JPEG's entropy-coded data read to the bit, without decoding pixels: every scan must hold
//! exactly the blocks the frame says it has, no fewer and no more.
//!
//! A decoder that meets damaged scan data mostly does not notice: Huffman codes are nearly
//! complete, so zeros or noise written over part of a scan decode into valid-looking codes,
//! and the picture comes out garbled from there on with no error (zune-jpeg in strict mode and
//! jpeg-decoder both decode 20 KB of zeros in a photo's scan "successfully"). What damage does
//! change is the number of blocks the bits make: the overwritten stretch holds more or fewer
//! blocks than the original, so the scan then either runs out before its last block (libjpeg:
//! "premature end of data segment") or has bytes left after it ("N extraneous bytes before
//! marker"). Both are refused here, as are the plainer signs: a code no table has, a run of
//! coefficients past the end of a block, a difference larger than 8-bit (or 12-bit) samples
//! allow, a DC value out of the range a real encoder can produce, a restart marker out of
//! sequence or missing.
//!
//! Baseline, extended and progressive Huffman-coded frames are read; arithmetic-coded and
//! lossless frames, and a scan whose Huffman table is not defined (motion-JPEG frames rely on
//! the standard tables), are left to the decoder ([`audit`] answers `Ok(false)`).

use crate::error::{MediaError, Result};

/// What was read: `true` when every scan was read to the bit, `false` when the coding is one
/// this module leaves to the decoder.
pub(crate) fn audit(bytes: &[u8]) -> Result<bool> {
    Auditor::default().run(bytes)
}

fn corrupt(msg: impl Into<String>) -> MediaError {
    MediaError::Corrupt(msg.into())
}

fn malformed(msg: impl Into<String>) -> MediaError {
    MediaError::Malformed(format!("JPEG: {}", msg.into()))
}

/// A Huffman table ready for decoding: codes of up to 9 bits by one look-up, longer ones by
/// their canonical ranges (ISO 10918-1 F.2.2.3).
struct Huffman {
    /// Indexed by the next 9 bits: (code length, symbol); length 0 when the code is longer.
    fast: Vec<(u8, u8)>,
    /// Per length 1-16: the largest code of that length (-1 when none), and the offset into
    /// `values` of its first code minus that first code.
    maxcode: [i32; 18],
    offset: [i32; 17],
    values: Vec<u8>,
}

const FAST_BITS: u32 = 9;

impl Huffman {
    fn new(counts: &[u8; 16], values: Vec<u8>) -> Result<Huffman> {
        let mut fast = vec![(0u8, 0u8); 1 << FAST_BITS];
        let mut maxcode = [-1i32; 18];
        let mut offset = [0i32; 17];
        let mut code: u32 = 0;
        let mut k = 0usize;
        for len in 1..=16u32 {
            let n = usize::from(counts[len as usize - 1]);
            offset[len as usize] = k as i32 - code as i32;
            for _ in 0..n {
                if code >= (1 << len) {
                    return Err(malformed("a Huffman table has more codes than fit"));
                }
                if len <= FAST_BITS {
                    let shift = FAST_BITS - len;
                    let base = (code << shift) as usize;
                    for e in &mut fast[base..base + (1 << shift)] {
                        *e = (len as u8, values[k]);
                    }
                }
                code += 1;
                k += 1;
            }
            if n > 0 {
                maxcode[len as usize] = code as i32 - 1;
            }
            code <<= 1;
        }
        maxcode[17] = i32::MAX;
        Ok(Huffman {
            fast,
            maxcode,
            offset,
            values,
        })
    }
}

/// The entropy-coded bytes of one scan (or restart interval) as bits: byte stuffing removed,
/// stopping at the next marker. Bits asked for past the marker read as zeros and are counted
/// (`overread`): a sound scan never needs them.
struct Bits<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Left-aligned bits not yet consumed (the top `nbits`).
    buf: u64,
    nbits: u32,
    /// Zero bits appended after the marker was reached.
    fake: u32,
    /// The offset of the 0xFF of the marker that ends the data, once reached.
    marker: Option<usize>,
}

impl<'a> Bits<'a> {
    fn new(bytes: &'a [u8], pos: usize) -> Self {
        Bits {
            bytes,
            pos,
            buf: 0,
            nbits: 0,
            fake: 0,
            marker: None,
        }
    }

    #[inline]
    fn refill(&mut self) {
        while self.nbits <= 56 {
            let byte = if self.marker.is_some() {
                self.fake += 8;
                0
            } else {
                match self.bytes.get(self.pos) {
                    None => {
                        self.marker = Some(self.pos);
                        self.fake += 8;
                        0
                    }
                    // 0xFF 0x00 is a stuffed 0xFF; 0xFF then anything else (fill bytes
                    // included) starts a marker.
                    Some(&0xFF) if self.bytes.get(self.pos + 1) == Some(&0x00) => {
                        self.pos += 2;
                        0xFF
                    }
                    Some(&0xFF) => {
                        self.marker = Some(self.pos);
                        self.fake += 8;
                        0
                    }
                    Some(&b) => {
                        self.pos += 1;
                        b
                    }
                }
            };
            self.buf |= u64::from(byte) << (56 - self.nbits);
            self.nbits += 8;
        }
    }

    #[inline]
    fn bits(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        if self.nbits < n {
            self.refill();
        }
        let v = (self.buf >> (64 - n)) as u32;
        self.buf <<= n;
        self.nbits -= n;
        v
    }

    #[inline]
    fn bit(&mut self) -> u32 {
        self.bits(1)
    }

    /// Bits consumed past the end of the data.
    fn overread(&self) -> u32 {
        self.fake.saturating_sub(self.nbits)
    }

    #[inline]
    fn decode(&mut self, t: &Huffman) -> Result<u8> {
        if self.nbits < 16 {
            self.refill();
        }
        let peek = (self.buf >> 48) as u32;
        let (len, sym) = t.fast[(peek >> (16 - FAST_BITS)) as usize];
        if len > 0 {
            self.buf <<= len;
            self.nbits -= u32::from(len);
            return Ok(sym);
        }
        for len in FAST_BITS + 1..=16 {
            let code = (peek >> (16 - len)) as i32;
            if code <= t.maxcode[len as usize] {
                self.buf <<= len;
                self.nbits -= len;
                let i = (code + t.offset[len as usize]) as usize;
                return t
                    .values
                    .get(i)
                    .copied()
                    .ok_or_else(|| corrupt("a Huffman code outside its table"));
            }
        }
        Err(corrupt(format!(
            "a code no Huffman table has, near byte {}",
            self.pos
        )))
    }

    /// `receive` and `extend` of F.2.2.1: a signed value of `s` bits.
    #[inline]
    fn signed(&mut self, s: u32) -> i32 {
        if s == 0 {
            return 0;
        }
        let v = self.bits(s) as i32;
        if v < (1 << (s - 1)) {
            v - (1 << s) + 1
        } else {
            v
        }
    }

    /// After the last block of a scan or interval: the data must end there (fewer than 8 bits
    /// of padding left, then the marker). Returns the offset of the marker's 0xFF.
    fn finish(&mut self) -> std::result::Result<usize, Ending> {
        if self.overread() > 0 {
            return Err(Ending::Short);
        }
        let real = self.nbits - self.fake;
        let mut extra = (real / 8) as usize;
        let marker = match self.marker {
            Some(m) => m,
            None => {
                // Whole bytes still before the marker: count them.
                let mut p = self.pos;
                loop {
                    match self.bytes.get(p) {
                        None => break p,
                        Some(&0xFF) if self.bytes.get(p + 1) != Some(&0x00) => break p,
                        Some(&0xFF) => {
                            p += 2;
                            extra += 1;
                        }
                        Some(_) => {
                            p += 1;
                            extra += 1;
                        }
                    }
                }
            }
        };
        if extra > 0 {
            return Err(Ending::Extra(extra));
        }
        Ok(marker)
    }
}

enum Ending {
    Short,
    Extra(usize),
}

#[derive(Clone, Copy, Default)]
struct Component {
    id: u8,
    h: usize,
    v: usize,
    tq: usize,
    /// Blocks across and down of this component alone (a non-interleaved scan's grid).
    bw: usize,
    bh: usize,
}

#[derive(Default)]
struct Auditor {
    dc: [Option<Huffman>; 4],
    ac: [Option<Huffman>; 4],
    /// The DC entry of each quantisation table.
    q0: [u32; 4],
    restart: usize,
    components: Vec<Component>,
    width: usize,
    height: usize,
    hmax: usize,
    vmax: usize,
    progressive: bool,
    precision: u8,
    /// Progressive frames: per component, per block, which coefficients are non-zero so far
    /// (the refinement scans read a correction bit for each).
    nonzero: Vec<Vec<u64>>,
    scans: usize,
}

struct ScanComp {
    c: usize,
    dc: usize,
    ac: usize,
}

fn u16_at(b: &[u8], at: usize) -> Result<usize> {
    b.get(at..at + 2)
        .map(|s| usize::from(u16::from_be_bytes([s[0], s[1]])))
        .ok_or_else(|| MediaError::Truncated("JPEG ends inside a segment".into()))
}

impl Auditor {
    fn run(mut self, b: &[u8]) -> Result<bool> {
        let mut pos = 2;
        loop {
            // Next marker (fill bytes skipped).
            if b.get(pos) != Some(&0xFF) {
                return Err(malformed(format!("expected a marker at byte {pos}")));
            }
            while b.get(pos + 1) == Some(&0xFF) {
                pos += 1;
            }
            let m = *b
                .get(pos + 1)
                .ok_or_else(|| MediaError::Truncated("JPEG ends inside a marker".into()))?;
            pos += 2;
            match m {
                0xD9 => return Ok(true),
                0xD8 => return Err(malformed(format!("a second SOI at byte {}", pos - 2))),
                0x01 | 0xD0..=0xD7 => {
                    return Err(corrupt(format!(
                        "a restart marker outside any scan, at byte {}",
                        pos - 2
                    )));
                }
                _ => {}
            }
            let len = u16_at(b, pos)?;
            let data = b
                .get(pos + 2..pos + len.max(2))
                .ok_or_else(|| MediaError::Truncated("JPEG ends inside a segment".into()))?;
            let next = pos + len.max(2);
            match m {
                0xC4 => self.dht(data)?,
                0xDB => self.dqt(data)?,
                0xDD => {
                    self.restart = u16_at(data, 0)?;
                }
                0xC0..=0xC2 => self.sof(data, m == 0xC2)?,
                // Lossless, hierarchical and arithmetic-coded frames: left to the decoder.
                0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return Ok(false),
                0xDA => match self.sos(b, data, next)? {
                    Some(after) => {
                        pos = after;
                        continue;
                    }
                    None => return Ok(false),
                },
                _ => {}
            }
            pos = next;
        }
    }

    fn dht(&mut self, mut d: &[u8]) -> Result<()> {
        while !d.is_empty() {
            if d.len() < 17 {
                return Err(malformed("Huffman table segment too short"));
            }
            let (class, id) = (d[0] >> 4, usize::from(d[0] & 15));
            let counts: [u8; 16] = d[1..17].try_into().unwrap_or([0; 16]);
            let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
            if id > 3 || class > 1 || total > 256 || d.len() < 17 + total {
                return Err(malformed("bad Huffman table segment"));
            }
            let table = Huffman::new(&counts, d[17..17 + total].to_vec())?;
            if class == 0 {
                self.dc[id] = Some(table);
            } else {
                self.ac[id] = Some(table);
            }
            d = &d[17 + total..];
        }
        Ok(())
    }

    fn dqt(&mut self, mut d: &[u8]) -> Result<()> {
        while !d.is_empty() {
            let (wide, id) = (d[0] >> 4 != 0, usize::from(d[0] & 15));
            let size = if wide { 129 } else { 65 };
            if id > 3 || d.len() < size {
                return Err(malformed("bad quantisation table segment"));
            }
            self.q0[id] = if wide {
                u32::from(u16::from_be_bytes([d[1], d[2]]))
            } else {
                u32::from(d[1])
            };
            d = &d[size..];
        }
        Ok(())
    }

    fn sof(&mut self, d: &[u8], progressive: bool) -> Result<()> {
        if d.len() < 6 {
            return Err(malformed("frame header too short"));
        }
        self.precision = d[0];
        self.height = u16_at(d, 1)?;
        self.width = u16_at(d, 3)?;
        let n = usize::from(d[5]);
        if d.len() < 6 + 3 * n || n == 0 || self.width == 0 || self.height == 0 {
            return Err(malformed("bad frame header"));
        }
        self.progressive = progressive;
        self.components = (0..n)
            .map(|i| {
                let c = &d[6 + 3 * i..9 + 3 * i];
                Component {
                    id: c[0],
                    h: usize::from(c[1] >> 4),
                    v: usize::from(c[1] & 15),
                    tq: usize::from(c[2] & 3),
                    bw: 0,
                    bh: 0,
                }
            })
            .collect();
        if self
            .components
            .iter()
            .any(|c| !(1..=4).contains(&c.h) || !(1..=4).contains(&c.v))
        {
            return Err(malformed("bad sampling factors"));
        }
        self.hmax = self.components.iter().map(|c| c.h).max().unwrap_or(1);
        self.vmax = self.components.iter().map(|c| c.v).max().unwrap_or(1);
        let (w, h, hmax, vmax) = (self.width, self.height, self.hmax, self.vmax);
        for c in &mut self.components {
            c.bw = (w * c.h).div_ceil(hmax).div_ceil(8);
            c.bh = (h * c.v).div_ceil(vmax).div_ceil(8);
        }
        if progressive {
            self.nonzero = self
                .components
                .iter()
                .map(|c| vec![0u64; c.bw * c.bh])
                .collect();
        }
        Ok(())
    }

    /// Reads one scan whose header is `d` and whose data starts at `start`; returns the offset
    /// of the marker after it, or `None` when it needs a table that is not defined.
    fn sos(&mut self, b: &[u8], d: &[u8], start: usize) -> Result<Option<usize>> {
        self.scans += 1;
        if self.components.is_empty() {
            return Err(malformed("scan before frame header"));
        }
        let n = usize::from(*d.first().unwrap_or(&0));
        if n == 0 || n > 4 || d.len() < 1 + 2 * n + 3 {
            return Err(malformed("bad scan header"));
        }
        let mut comps = Vec::with_capacity(n);
        for i in 0..n {
            let id = d[1 + 2 * i];
            let c = self
                .components
                .iter()
                .position(|c| c.id == id)
                .ok_or_else(|| malformed(format!("scan names component {id}, not in the frame")))?;
            let t = d[2 + 2 * i];
            comps.push(ScanComp {
                c,
                dc: usize::from(t >> 4),
                ac: usize::from(t & 15),
            });
        }
        let (ss, se) = (usize::from(d[1 + 2 * n]), usize::from(d[2 + 2 * n]));
        let (ah, al) = (u32::from(d[3 + 2 * n] >> 4), u32::from(d[3 + 2 * n] & 15));
        if se > 63 || ss > se || al > 13 || (!self.progressive && (ss != 0 || se != 63)) {
            return Err(malformed("bad spectral selection in a scan header"));
        }
        if self.progressive && ss > 0 && n != 1 {
            return Err(malformed("an AC scan of several components"));
        }
        let needs_dc = ss == 0 && ah == 0;
        let needs_ac = !self.progressive || ss > 0;
        for sc in &comps {
            if sc.dc > 3 || sc.ac > 3 {
                return Err(malformed("bad Huffman table number in a scan header"));
            }
            if (needs_dc && self.dc[sc.dc].is_none()) || (needs_ac && self.ac[sc.ac].is_none()) {
                return Ok(None);
            }
        }
        let scan = Scan {
            ss,
            se,
            ah,
            al,
            comps,
        };
        self.read_scan(b, start, &scan).map(Some)
    }

    fn read_scan(&mut self, b: &[u8], start: usize, s: &Scan) -> Result<usize> {
        // The MCU grid: an interleaved scan covers the frame in MCUs of every component's
        // blocks; a scan of one component covers that component's blocks one by one.
        let single = s.comps.len() == 1;
        let (mcux, mcuy) = if single {
            let c = &self.components[s.comps[0].c];
            (c.bw, c.bh)
        } else {
            (
                self.width.div_ceil(8 * self.hmax),
                self.height.div_ceil(8 * self.vmax),
            )
        };
        let total = mcux * mcuy;
        let interval = if self.restart == 0 {
            total
        } else {
            self.restart
        };
        let sample_bits = if self.precision > 8 { 12 } else { 8 };
        // Largest magnitude category a difference or coefficient can have (F.1.2.1, F.1.2.2).
        let (max_dc_size, max_ac_size) = (sample_bits + 3, sample_bits + 2);
        // A DC value times its quantiser is eight times a block's mean sample (centred on
        // zero): at most 8 x 2^(P-1) either way. Allowed: that, half a quantiser of rounding and
        // one step more.
        let dc_limit = [0, 1, 2, 3].map(|t| {
            let q = i64::from(self.q0[t].max(1));
            ((8i64 << (sample_bits - 1)) + q) / q + 1
        });
        let mut pos = start;
        let mut mcu = 0usize;
        let mut rst = 0u8;
        while mcu < total {
            let end = (mcu + interval).min(total);
            let mut bits = Bits::new(b, pos);
            let mut pred = [0i32; 4];
            let mut eobrun = 0u32;
            for m in mcu..end {
                for (k, sc) in s.comps.iter().enumerate() {
                    let comp = self.components[sc.c];
                    let (nh, nv) = if single { (1, 1) } else { (comp.h, comp.v) };
                    // Only a progressive AC scan (one component) keeps per-block state,
                    // indexed by the block.
                    let block = if single { m } else { 0 };
                    for _ in 0..nv * nh {
                        let r = self.block(
                            &mut bits,
                            s,
                            sc,
                            k,
                            &mut pred,
                            &mut eobrun,
                            block,
                            (max_dc_size, max_ac_size),
                            dc_limit[comp.tq],
                        );
                        if let Err(e) = r {
                            return Err(self.locate(e, s, m, mcux, single));
                        }
                    }
                }
                if bits.overread() > 0 {
                    return Err(self.short(s, m, mcux, single));
                }
            }
            let marker = match bits.finish() {
                Ok(marker) => marker,
                Err(Ending::Short) => {
                    return Err(self.short(s, end, mcux, single));
                }
                Err(Ending::Extra(n)) => {
                    return Err(corrupt(format!(
                        "{n} bytes of picture data are left over after the last row{}: part of \
                         the data was overwritten or lost",
                        self.scan_name(s)
                    )));
                }
            };
            let m = *b.get(marker + 1).unwrap_or(&0);
            let mut after = marker;
            while b.get(after + 1) == Some(&0xFF) {
                after += 1;
            }
            let m = if m == 0xFF {
                *b.get(after + 1).unwrap_or(&0)
            } else {
                m
            };
            if end < total {
                if m != 0xD0 + rst {
                    return Err(corrupt(format!(
                        "restart marker {} missing after row {} of {}{} (found 0x{m:02X}): part \
                         of the data was overwritten or lost",
                        rst,
                        self.row_of(end, mcux, single, s),
                        self.height,
                        self.scan_name(s)
                    )));
                }
                rst = (rst + 1) & 7;
                pos = after + 2;
            } else {
                if (0xD0..=0xD7).contains(&m) {
                    return Err(corrupt(format!(
                        "a restart marker after the last row{}: picture data was added or \
                         overwritten",
                        self.scan_name(s)
                    )));
                }
                pos = after;
            }
            mcu = end;
        }
        Ok(pos)
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn block(
        &mut self,
        bits: &mut Bits<'_>,
        s: &Scan,
        sc: &ScanComp,
        k: usize,
        pred: &mut [i32; 4],
        eobrun: &mut u32,
        block: usize,
        (max_dc, max_ac): (u32, u32),
        dc_limit: i64,
    ) -> Result<()> {
        if s.ss == 0 {
            if s.ah == 0 {
                let t = self.dc[sc.dc]
                    .as_ref()
                    .ok_or_else(|| corrupt("no DC table"))?;
                let size = u32::from(bits.decode(t)?);
                if size > max_dc {
                    return Err(corrupt(format!(
                        "a DC difference of {size} bits, more than the samples allow"
                    )));
                }
                pred[k] = pred[k].wrapping_add(bits.signed(size));
                let v = i64::from(pred[k]) << s.al;
                if v.abs() > dc_limit {
                    return Err(corrupt(
                        "a block brightness far outside what any picture can have",
                    ));
                }
            } else {
                bits.bit();
            }
            if !self.progressive {
                return self.sequential_ac(bits, sc, max_ac);
            }
            return Ok(());
        }
        let mask = self
            .nonzero
            .get_mut(sc.c)
            .and_then(|v| v.get_mut(block))
            .ok_or_else(|| corrupt("block outside the frame"))?;
        let t = self.ac[sc.ac]
            .as_ref()
            .ok_or_else(|| corrupt("no AC table"))?;
        if s.ah == 0 {
            ac_first(bits, t, s.ss, s.se, eobrun, mask, max_ac)
        } else {
            ac_refine(bits, t, s.ss, s.se, eobrun, mask)
        }
    }

    fn sequential_ac(&self, bits: &mut Bits<'_>, sc: &ScanComp, max_ac: u32) -> Result<()> {
        let t = self.ac[sc.ac]
            .as_ref()
            .ok_or_else(|| corrupt("no AC table"))?;
        let mut k = 1usize;
        while k <= 63 {
            let rs = bits.decode(t)?;
            let (r, size) = (usize::from(rs >> 4), u32::from(rs & 15));
            if size == 0 {
                if r == 15 {
                    k += 16;
                    if k > 64 {
                        return Err(corrupt("a run of zeros past the end of a block"));
                    }
                    continue;
                }
                if r != 0 {
                    return Err(corrupt("a code that is not a coefficient"));
                }
                break;
            }
            if size > max_ac {
                return Err(corrupt(format!(
                    "a coefficient of {size} bits, more than the samples allow"
                )));
            }
            k += r;
            if k > 63 {
                return Err(corrupt("a run of zeros past the end of a block"));
            }
            bits.bits(size);
            k += 1;
        }
        Ok(())
    }

    fn row_of(&self, mcu: usize, mcux: usize, single: bool, s: &Scan) -> usize {
        let rows = if single {
            let c = &self.components[s.comps[0].c];
            8 * self.vmax / c.v
        } else {
            8 * self.vmax
        };
        ((mcu / mcux.max(1)) * rows).min(self.height)
    }

    /// Nothing for a one-scan picture; which scan, for the others.
    fn scan_name(&self, s: &Scan) -> String {
        if self.scans == 1 && !self.progressive {
            String::new()
        } else {
            format!(
                " in scan {} (coefficients {}-{} of {} component{})",
                self.scans,
                s.ss,
                s.se,
                s.comps.len(),
                if s.comps.len() == 1 { "" } else { "s" }
            )
        }
    }

    fn short(&self, s: &Scan, at: usize, mcux: usize, single: bool) -> MediaError {
        corrupt(format!(
            "the picture data runs out at row {} of {}{}: part of it was overwritten or lost",
            self.row_of(at, mcux, single, s),
            self.height,
            self.scan_name(s)
        ))
    }

    fn locate(&self, e: MediaError, s: &Scan, m: usize, mcux: usize, single: bool) -> MediaError {
        match e {
            MediaError::Corrupt(why) => corrupt(format!(
                "{why}, at row {} of {}{}",
                self.row_of(m, mcux, single, s),
                self.height,
                self.scan_name(s)
            )),
            other => other,
        }
    }
}

struct Scan {
    ss: usize,
    se: usize,
    ah: u32,
    al: u32,
    comps: Vec<ScanComp>,
}

/// A progressive AC first scan's block (G.1.2.2).
fn ac_first(
    bits: &mut Bits<'_>,
    t: &Huffman,
    ss: usize,
    se: usize,
    eobrun: &mut u32,
    mask: &mut u64,
    max_ac: u32,
) -> Result<()> {
    if *eobrun > 0 {
        *eobrun -= 1;
        return Ok(());
    }
    let mut k = ss;
    while k <= se {
        let rs = bits.decode(t)?;
        let (r, size) = (u32::from(rs >> 4), u32::from(rs & 15));
        if size == 0 {
            if r < 15 {
                *eobrun = (1 << r) + bits.bits(r) - 1;
                break;
            }
            k += 16;
            if k > se + 1 {
                return Err(corrupt("a run of zeros past the end of a band"));
            }
            continue;
        }
        if size > max_ac {
            return Err(corrupt(format!(
                "a coefficient of {size} bits, more than the samples allow"
            )));
        }
        k += r as usize;
        if k > se {
            return Err(corrupt("a run of zeros past the end of a band"));
        }
        bits.bits(size);
        *mask |= 1 << k;
        k += 1;
    }
    Ok(())
}

/// A progressive AC refinement scan's block (G.1.2.3): a correction bit for every coefficient
/// already non-zero, new coefficients of magnitude 1 placed after runs of zero ones.
fn ac_refine(
    bits: &mut Bits<'_>,
    t: &Huffman,
    ss: usize,
    se: usize,
    eobrun: &mut u32,
    mask: &mut u64,
) -> Result<()> {
    let mut k = ss;
    if *eobrun == 0 {
        while k <= se {
            let rs = bits.decode(t)?;
            let (mut r, size) = (u32::from(rs >> 4), u32::from(rs & 15));
            if size == 0 {
                if r < 15 {
                    *eobrun = (1 << r) + bits.bits(r);
                    break;
                }
            } else {
                if size != 1 {
                    return Err(corrupt("a refinement coefficient larger than one"));
                }
                bits.bit();
            }
            while k <= se {
                if *mask & (1 << k) != 0 {
                    bits.bit();
                } else {
                    if r == 0 {
                        break;
                    }
                    r -= 1;
                }
                k += 1;
            }
            if size != 0 {
                if k > se {
                    return Err(corrupt("a run of zeros past the end of a band"));
                }
                *mask |= 1 << k;
            }
            k += 1;
        }
    }
    if *eobrun > 0 {
        while k <= se {
            if *mask & (1 << k) != 0 {
                bits.bit();
            }
            k += 1;
        }
        *eobrun -= 1;
    }
    Ok(())
}
