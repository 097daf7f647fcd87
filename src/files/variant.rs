//! Image variants: `w`, `h` and `mode` as the API takes them, the size they
//! come out at, and the rendering.
//!
//! The rules: `resize` (the default) keeps the aspect ratio within the
//! given width and/or height; `crop` cuts exactly `w`×`h` from the centre;
//! `fit` scales to cover `w`×`h` and crops the overflow from the centre
//! (with only `w`, it is a resize to that width). An image is never
//! upscaled: a request larger than the image is scaled down to fit it,
//! keeping the requested aspect ratio for `fit`.

use image::{imageops::FilterType, ImageFormat, ImageReader};
use std::path::Path;

/// Largest width or height a variant may ask for, in pixels.
pub const MAX_VARIANT_SIDE: u32 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Resize,
    Crop,
    Fit,
}

/// A requested variant, already checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    pub mode: Mode,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// Why a variant request is refused: (field, code, message).
pub type VariantError = (&'static str, &'static str, String);

impl Variant {
    /// `None` when no variant is asked for (the original is served).
    pub fn parse(
        width: Option<u32>,
        height: Option<u32>,
        mode: Option<&str>,
    ) -> Result<Option<Variant>, VariantError> {
        let mode = match mode {
            None | Some("resize") => Mode::Resize,
            Some("crop") => Mode::Crop,
            Some("fit") => Mode::Fit,
            Some(_) => {
                return Err((
                    "mode",
                    "invalid",
                    "mode must be one of resize, crop, fit".into(),
                ))
            }
        };
        for (name, value) in [("w", width), ("h", height)] {
            if value.is_some_and(|v| v == 0 || v > MAX_VARIANT_SIDE) {
                return Err((
                    name,
                    "range",
                    format!("{name} must be between 1 and {MAX_VARIANT_SIDE}"),
                ));
            }
        }
        match (mode, width, height) {
            (Mode::Resize, None, None) => Ok(None),
            (Mode::Crop, Some(_), Some(_)) | (Mode::Fit, Some(_), _) | (Mode::Resize, _, _) => {
                Ok(Some(Variant {
                    mode,
                    width,
                    height,
                }))
            }
            (Mode::Crop, _, _) => Err(("w", "required", "mode=crop needs both w and h".into())),
            (Mode::Fit, None, _) => Err(("w", "required", "mode=fit needs w".into())),
        }
    }

    /// A short name for the cache file.
    pub fn key(&self) -> String {
        let mode = match self.mode {
            Mode::Resize => "resize",
            Mode::Crop => "crop",
            Mode::Fit => "fit",
        };
        let side = |v: Option<u32>| v.map_or_else(|| "auto".to_owned(), |v| v.to_string());
        format!("{mode}-{}x{}", side(self.width), side(self.height))
    }

    /// The variant's pixel size for an image of `width`×`height`.
    pub fn output_size(&self, width: u32, height: u32) -> (u32, u32) {
        let (w, h) = (width as f64, height as f64);
        let scaled = |factor: f64| {
            let factor = factor.min(1.0);
            (
                ((w * factor).round() as u32).max(1),
                ((h * factor).round() as u32).max(1),
            )
        };
        match (self.mode, self.width, self.height) {
            (Mode::Crop, Some(cw), Some(ch)) => (cw.min(width), ch.min(height)),
            (Mode::Fit, Some(fw), Some(fh)) => {
                // Shrink the box until it fits inside the image: the
                // requested aspect ratio stays, nothing is upscaled.
                let shrink = (w / fw as f64).min(h / fh as f64).min(1.0);
                (
                    ((fw as f64 * shrink).round() as u32).max(1),
                    ((fh as f64 * shrink).round() as u32).max(1),
                )
            }
            (_, Some(rw), Some(rh)) => scaled((rw as f64 / w).min(rh as f64 / h)),
            (_, Some(rw), None) => scaled(rw as f64 / w),
            (_, None, Some(rh)) => scaled(rh as f64 / h),
            (_, None, None) => (width, height),
        }
    }

    /// Renders the variant of the image at `source` into `target`.
    /// Blocking and CPU-heavy: run it on the blocking pool.
    pub fn render(&self, source: &Path, target: &Path) -> Result<(), String> {
        let image = reader(source)?.decode().map_err(|e| e.to_string())?;
        let (width, height) = (image.width(), image.height());
        let (ow, oh) = self.output_size(width, height);
        let out = match self.mode {
            Mode::Crop => {
                let (x, y) = ((width - ow) / 2, (height - oh) / 2);
                image.crop_imm(x, y, ow, oh)
            }
            Mode::Fit if self.height.is_some() => {
                image.resize_to_fill(ow, oh, FilterType::Lanczos3)
            }
            _ if (ow, oh) == (width, height) => image,
            _ => image.resize_exact(ow, oh, FilterType::Lanczos3),
        };
        let format = output_format(source);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        // Written aside and renamed, so a reader never sees half a file.
        let partial = target.with_extension("partial");
        out.save_with_format(&partial, format)
            .map_err(|e| e.to_string())?;
        std::fs::rename(&partial, target).map_err(|e| e.to_string())
    }
}

/// JPEG stays JPEG; everything else becomes PNG (lossless, and every
/// browser shows it).
pub fn output_format(source: &Path) -> ImageFormat {
    match reader(source).ok().and_then(|r| r.format()) {
        Some(ImageFormat::Jpeg) => ImageFormat::Jpeg,
        _ => ImageFormat::Png,
    }
}

/// The content type a variant of `source` is served with.
pub fn output_content_type(source: &Path) -> &'static str {
    output_format(source).to_mime_type()
}

/// Image types we can read, decode and make variants of.
pub fn is_image_type(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

/// The pixel size of the image at `path`, if it is one we can read and it
/// is within [`super::MAX_IMAGE_SIDE`].
pub fn dimensions(path: &Path) -> Option<(u32, u32)> {
    let (w, h) = reader(path).ok()?.into_dimensions().ok()?;
    (w > 0 && h > 0 && w <= super::MAX_IMAGE_SIDE && h <= super::MAX_IMAGE_SIDE).then_some((w, h))
}

fn reader(path: &Path) -> Result<ImageReader<std::io::BufReader<std::fs::File>>, String> {
    let mut reader = ImageReader::open(path)
        .map_err(|e| e.to_string())?
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(super::MAX_IMAGE_SIDE);
    limits.max_image_height = Some(super::MAX_IMAGE_SIDE);
    // A 16k×16k RGBA image is 1 GiB; chat images are far smaller.
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    Ok(reader)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(mode: Option<&str>, w: Option<u32>, h: Option<u32>) -> Variant {
        Variant::parse(w, h, mode).unwrap().unwrap()
    }

    #[test]
    fn parse_rules() {
        assert_eq!(Variant::parse(None, None, None).unwrap(), None);
        assert_eq!(Variant::parse(None, None, Some("resize")).unwrap(), None);
        assert!(Variant::parse(Some(10), None, Some("crop")).is_err());
        assert!(Variant::parse(None, Some(10), Some("fit")).is_err());
        assert!(Variant::parse(Some(0), None, None).is_err());
        assert!(Variant::parse(Some(MAX_VARIANT_SIDE + 1), None, None).is_err());
        assert!(Variant::parse(Some(10), None, Some("stretch")).is_err());
    }

    #[test]
    fn resize_keeps_aspect_and_never_upscales() {
        assert_eq!(v(None, Some(50), None).output_size(200, 100), (50, 25));
        assert_eq!(v(None, None, Some(25)).output_size(200, 100), (50, 25));
        assert_eq!(
            v(None, Some(100), Some(100)).output_size(200, 100),
            (100, 50)
        );
        assert_eq!(v(None, Some(400), None).output_size(200, 100), (200, 100));
    }

    #[test]
    fn crop_is_exact_and_clamped() {
        let crop = v(Some("crop"), Some(30), Some(40));
        assert_eq!(crop.output_size(200, 100), (30, 40));
        assert_eq!(crop.output_size(20, 100), (20, 40));
    }

    #[test]
    fn fit_fills_the_box_and_shrinks_it_to_the_image() {
        assert_eq!(
            v(Some("fit"), Some(150), Some(100)).output_size(600, 600),
            (150, 100)
        );
        assert_eq!(
            v(Some("fit"), Some(300), Some(200)).output_size(150, 150),
            (150, 100)
        );
        assert_eq!(
            v(Some("fit"), Some(300), None).output_size(600, 300),
            (300, 150)
        );
    }
}
