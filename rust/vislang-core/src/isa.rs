//! The one CPU-feature detection of the crate and the instruction-set level every kernel runs at.
//!
//! [`cpu_features`] asks the CPU once (cached). [`Isa`] orders the three levels the kernels are
//! compiled for: [`Isa::Scalar`] (portable Rust), [`Isa::Avx2`] (AVX2 + FMA) and [`Isa::Avx512`]
//! (AVX-512 F + BW + DQ + VL: the set `#[target_feature]` enables for it, so a CPU with
//! AVX-512F alone runs the AVX2 level). The bfloat16 candidate kernel also needs AVX-512 BF16
//! ([`bf16`]).
//!
//! `VISLANG_ISA=scalar|avx2|avx512` (read once, case-insensitive; `auto` or unset: the widest
//! level of the CPU) lowers the level so that tests can run every path on one machine. It never
//! raises the level above what the CPU has: such a request runs the CPU's level. An unknown
//! value is ignored with a warning on stderr (once) and recorded in [`IsaChoice::warning`].
//!
//! Kernels dispatch with [`multiversion!`](crate::multiversion) (one generic body compiled per
//! level) or, for hand-written intrinsics, by matching [`Isa::supported`] of the level given.

use std::fmt;
use std::sync::OnceLock;

/// Name of the environment variable that lowers the instruction-set level.
pub const ENV_VAR: &str = "VISLANG_ISA";

/// The x86 features the kernels use, as detected on this CPU (all `false` elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(clippy::struct_excessive_bools)]
pub struct CpuFeatures {
    /// AVX2.
    pub avx2: bool,
    /// Fused multiply-add (FMA3).
    pub fma: bool,
    /// AVX-512 Foundation.
    pub avx512f: bool,
    /// AVX-512 byte and word instructions.
    pub avx512bw: bool,
    /// AVX-512 doubleword and quadword instructions.
    pub avx512dq: bool,
    /// AVX-512 vector-length extensions (128/256-bit forms).
    pub avx512vl: bool,
    /// AVX-512 bfloat16 dot products (`vdpbf16ps`).
    pub avx512bf16: bool,
    /// AVX-512 vector neural network instructions.
    pub avx512vnni: bool,
}

impl CpuFeatures {
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            Self {
                avx2: std::is_x86_feature_detected!("avx2"),
                fma: std::is_x86_feature_detected!("fma"),
                avx512f: std::is_x86_feature_detected!("avx512f"),
                avx512bw: std::is_x86_feature_detected!("avx512bw"),
                avx512dq: std::is_x86_feature_detected!("avx512dq"),
                avx512vl: std::is_x86_feature_detected!("avx512vl"),
                avx512bf16: std::is_x86_feature_detected!("avx512bf16"),
                avx512vnni: std::is_x86_feature_detected!("avx512vnni"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Self::default()
        }
    }

    /// `(name, present)` for every feature, in a fixed order.
    pub fn list(&self) -> [(&'static str, bool); 8] {
        [
            ("avx2", self.avx2),
            ("fma", self.fma),
            ("avx512f", self.avx512f),
            ("avx512bw", self.avx512bw),
            ("avx512dq", self.avx512dq),
            ("avx512vl", self.avx512vl),
            ("avx512bf16", self.avx512bf16),
            ("avx512vnni", self.avx512vnni),
        ]
    }

    /// The widest [`Isa`] level these features run.
    pub fn max_isa(&self) -> Isa {
        if self.avx2 && self.fma && self.avx512f && self.avx512bw && self.avx512dq && self.avx512vl
        {
            Isa::Avx512
        } else if self.avx2 && self.fma {
            Isa::Avx2
        } else {
            Isa::Scalar
        }
    }
}

/// The features of this CPU, detected once.
pub fn cpu_features() -> CpuFeatures {
    static F: OnceLock<CpuFeatures> = OnceLock::new();
    *F.get_or_init(CpuFeatures::detect)
}

/// The widest level of this CPU, cached (dispatchers ask for it per call).
#[inline]
fn max_supported() -> Isa {
    static M: OnceLock<Isa> = OnceLock::new();
    *M.get_or_init(|| cpu_features().max_isa())
}

/// An instruction-set level the kernels are compiled for, narrowest first (`Ord` follows width).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// Portable Rust, no `target_feature`.
    Scalar,
    /// AVX2 and FMA.
    Avx2,
    /// AVX-512 F, BW, DQ and VL (plus AVX2 and FMA).
    Avx512,
}

impl Isa {
    /// Every level, narrowest first.
    pub const ALL: [Isa; 3] = [Isa::Scalar, Isa::Avx2, Isa::Avx512];

    /// The lower-case name (`scalar`, `avx2`, `avx512`), as `VISLANG_ISA` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Scalar => "scalar",
            Self::Avx2 => "avx2",
            Self::Avx512 => "avx512",
        }
    }

    /// Parses a level name (case-insensitive); `None` for anything else.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|isa| isa.name().eq_ignore_ascii_case(name.trim()))
    }

    /// This level lowered to what the CPU runs: the level a kernel asked for `self` may use.
    /// Dispatchers call it, so asking for a level above the CPU is safe.
    #[inline]
    pub fn supported(self) -> Self {
        self.min(max_supported())
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the level in use was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsaChoice {
    /// The level in use.
    pub active: Isa,
    /// The widest level of the CPU.
    pub detected: Isa,
    /// The value of `VISLANG_ISA` when it was read (`None`: unset).
    pub requested: Option<String>,
    /// Why the request was not followed as given, if it was not.
    pub warning: Option<String>,
}

impl IsaChoice {
    /// The level for `requested` (the `VISLANG_ISA` value) on a CPU whose widest level is
    /// `detected`.
    pub fn resolve(requested: Option<&str>, detected: Isa) -> Self {
        let mut warning = None;
        let active = match requested.map(str::trim) {
            None | Some("") => detected,
            Some(v) if v.eq_ignore_ascii_case("auto") => detected,
            Some(v) => match Isa::parse(v) {
                Some(want) if want <= detected => want,
                Some(_) => {
                    warning = Some(format!(
                        "{ENV_VAR}={v}: this CPU runs at most {detected}; using {detected}"
                    ));
                    detected
                }
                None => {
                    warning = Some(format!(
                        "{ENV_VAR}={v} is not one of auto, scalar, avx2, avx512; ignored, \
                         using {detected}"
                    ));
                    detected
                }
            },
        };
        Self {
            active,
            detected,
            requested: requested.map(str::to_string),
            warning,
        }
    }
}

/// The level choice of this process: `VISLANG_ISA` and the CPU, read once. A warning (unknown
/// value, or a level above the CPU) is printed to stderr the first time.
pub fn choice() -> &'static IsaChoice {
    static C: OnceLock<IsaChoice> = OnceLock::new();
    C.get_or_init(|| {
        let requested = std::env::var(ENV_VAR).ok();
        let c = IsaChoice::resolve(requested.as_deref(), cpu_features().max_isa());
        if let Some(w) = &c.warning {
            eprintln!("vislang: {w}");
        }
        c
    })
}

/// The level the kernels run at in this process.
#[inline]
pub fn current() -> Isa {
    choice().active
}

/// Whether the bfloat16 kernels run at `isa`: the AVX-512 level and AVX-512 BF16.
#[inline]
pub fn bf16_at(isa: Isa) -> bool {
    isa.supported() == Isa::Avx512 && cpu_features().avx512bf16
}

/// Whether the bfloat16 kernels run at the level in use ([`bf16_at`] of [`current`]).
#[inline]
pub fn bf16() -> bool {
    bf16_at(current())
}

/// Defines `$vis fn $name<generics>(isa: Isa, args) -> ret` that runs `$inner(args)` (an
/// `#[inline(always)]` fn, generic or not) compiled once per [`Isa`] level: the widest level the
/// CPU runs that is not above `isa` ([`Isa::supported`]). The arithmetic is the same in every
/// variant; only the instructions the compiler may pick differ.
///
/// ```ignore
/// multiversion!(fn sum_chunk_isa[T: Scalar](c: &Chunk<'_, T>) -> f64 = sum_chunk);
/// let s = sum_chunk_isa(isa::current(), &c);
/// ```
#[macro_export]
macro_rules! multiversion {
    ($vis:vis fn $name:ident [$($gen:tt)*] ($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? = $inner:path) => {
        $vis fn $name<$($gen)*>(isa: $crate::isa::Isa, $($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
            unsafe fn v512<$($gen)*>($($arg: $ty),*) $(-> $ret)? {
                $inner($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn v2<$($gen)*>($($arg: $ty),*) $(-> $ret)? {
                $inner($($arg),*)
            }
            match isa.supported() {
                // SAFETY: `supported()` never exceeds the detected level, and the AVX-512 level
                // requires F, BW, DQ, VL, AVX2 and FMA.
                #[cfg(target_arch = "x86_64")]
                $crate::isa::Isa::Avx512 => unsafe { v512($($arg),*) },
                // SAFETY: as above; the AVX2 level requires AVX2 and FMA.
                #[cfg(target_arch = "x86_64")]
                $crate::isa::Isa::Avx2 => unsafe { v2($($arg),*) },
                _ => $inner($($arg),*),
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_order_and_parse() {
        assert!(Isa::Scalar < Isa::Avx2 && Isa::Avx2 < Isa::Avx512);
        for isa in Isa::ALL {
            assert_eq!(Isa::parse(isa.name()), Some(isa));
            assert_eq!(Isa::parse(&isa.name().to_uppercase()), Some(isa));
        }
        assert_eq!(Isa::parse("sse"), None);
    }

    #[test]
    fn avx512_level_needs_every_subset() {
        let full = CpuFeatures {
            avx2: true,
            fma: true,
            avx512f: true,
            avx512bw: true,
            avx512dq: true,
            avx512vl: true,
            avx512bf16: false,
            avx512vnni: false,
        };
        assert_eq!(full.max_isa(), Isa::Avx512);
        // AVX-512F alone (Knights Landing) must not run kernels compiled with BW/DQ/VL.
        let f_only = CpuFeatures {
            avx512bw: false,
            avx512dq: false,
            avx512vl: false,
            ..full
        };
        assert_eq!(f_only.max_isa(), Isa::Avx2);
        let no_fma = CpuFeatures { fma: false, ..full };
        assert_eq!(no_fma.max_isa(), Isa::Scalar);
        assert_eq!(CpuFeatures::default().max_isa(), Isa::Scalar);
    }

    #[test]
    fn env_request_never_exceeds_the_cpu() {
        let c = IsaChoice::resolve(Some("avx512"), Isa::Avx2);
        assert_eq!(c.active, Isa::Avx2);
        assert!(c
            .warning
            .as_deref()
            .is_some_and(|w| w.contains("at most avx2")));
        let c = IsaChoice::resolve(Some("Scalar"), Isa::Avx512);
        assert_eq!((c.active, c.warning), (Isa::Scalar, None));
        let c = IsaChoice::resolve(None, Isa::Avx512);
        assert_eq!(c.active, Isa::Avx512);
        let c = IsaChoice::resolve(Some("auto"), Isa::Avx2);
        assert_eq!((c.active, c.warning), (Isa::Avx2, None));
        let c = IsaChoice::resolve(Some("sse9"), Isa::Avx2);
        assert_eq!(c.active, Isa::Avx2);
        assert!(c
            .warning
            .as_deref()
            .is_some_and(|w| w.contains("not one of")));
    }

    #[test]
    fn supported_clamps_to_the_cpu() {
        let max = cpu_features().max_isa();
        for isa in Isa::ALL {
            assert_eq!(isa.supported(), isa.min(max));
        }
        assert!(current() <= max);
    }

    fn sum_sq(v: &[f32]) -> f32 {
        v.iter().map(|x| x * x).sum()
    }

    #[inline(always)]
    fn sum_sq_inner(v: &[f32]) -> f32 {
        sum_sq(v)
    }

    multiversion!(fn sum_sq_isa[](v: &[f32]) -> f32 = sum_sq_inner);

    #[test]
    fn multiversion_runs_every_level_alike() {
        let v: Vec<f32> = (0..100).map(|i| i as f32 * 0.25).collect();
        let want = sum_sq(&v);
        for isa in Isa::ALL {
            assert_eq!(sum_sq_isa(isa, &v).to_bits(), want.to_bits(), "{isa}");
        }
    }
}
