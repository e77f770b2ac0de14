//! Pre-processing, the first stage after a request is read when the server takes
//! encoded images (`--preprocess image`): each JPEG or PNG is decoded, resized to
//! the model's input size (bilinear), scaled to [0, 1] and normalised with the
//! ImageNet mean and deviation, into the model's `3 × H × W` input in its element
//! type. The work runs on a pool of CPU threads of its own, so that decoding never
//! holds up the network threads; the stage's time includes the wait for a free
//! pool thread, as a queue's does.

use std::io::Cursor;
use std::thread::JoinHandle;

use bytes::Bytes;
use crossbeam_channel::{unbounded, Receiver, Sender};
use image::imageops::FilterType;
use tch::{Kind, Tensor};
use tokio::sync::oneshot;

use crate::config::{InputDtype, InputSpec};
use crate::error::{Error, Result};
use crate::oip::Refusal;

/// ImageNet's per-channel mean and standard deviation (of values in [0, 1]), the
/// normalisation torchvision's classifiers are trained with.
const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The largest side an encoded image may have: past it, a small file could make
/// the decoder allocate gigabytes.
const MAX_SIDE: u32 = 8192;

/// How images become the model's input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImagePrep {
    /// The model input's height.
    pub height: u32,
    /// Its width.
    pub width: u32,
    /// Its element type.
    pub kind: Kind,
}

impl ImagePrep {
    /// For a model whose one input is a `3 × H × W` float image; an error otherwise.
    pub fn for_inputs(specs: &[InputSpec]) -> Result<Self> {
        let refuse = |why: String| Error::config("preprocess", why);
        let [spec] = specs else {
            return Err(refuse(format!(
                "image needs a model with one image input; this one has {}",
                specs.len()
            )));
        };
        match (spec.shape.as_slice(), spec.dtype) {
            ([3, h, w], InputDtype::F32 | InputDtype::F16 | InputDtype::Bf16)
                if *h > 0 && *w > 0 =>
            {
                Ok(Self {
                    height: *h as u32,
                    width: *w as u32,
                    kind: spec.dtype.kind(),
                })
            }
            _ => Err(refuse(format!(
                "image needs a model whose input is a 3 × H × W float image; this one takes {spec}"
            ))),
        }
    }

    /// Decodes `images` into one `[n, 3, H, W]` tensor.
    pub fn decode(&self, images: &[Bytes]) -> std::result::Result<Tensor, Refusal> {
        let (h, w) = (self.height as usize, self.width as usize);
        let per_image = 3 * h * w;
        let mut out = vec![0f32; images.len() * per_image];
        for (k, (bytes, chw)) in images
            .iter()
            .zip(out.chunks_exact_mut(per_image))
            .enumerate()
        {
            self.decode_one(bytes, chw)
                .map_err(|why| Refusal::bad_request(format!("image {k}: {why}")))?;
        }
        let shape = [images.len() as i64, 3, h as i64, w as i64];
        Tensor::f_from_slice(&out)
            .and_then(|t| t.f_view(shape))
            .and_then(|t| t.f_to_kind(self.kind))
            .map_err(|e| Refusal::internal(format!("building the image tensor: {e}")))
    }

    fn decode_one(&self, bytes: &[u8], chw: &mut [f32]) -> std::result::Result<(), String> {
        let mut reader = image::ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| format!("cannot read it: {e}"))?;
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(MAX_SIDE);
        limits.max_image_height = Some(MAX_SIDE);
        reader.limits(limits);
        let decoded = reader
            .decode()
            .map_err(|e| format!("not a JPEG or PNG image this server can decode: {e}"))?;
        let rgb = image::imageops::resize(
            &decoded.to_rgb8(),
            self.width,
            self.height,
            FilterType::Triangle,
        );
        let plane = (self.height * self.width) as usize;
        for (i, pixel) in rgb.pixels().enumerate() {
            for c in 0..3 {
                chw[c * plane + i] = (pixel[c] as f32 / 255.0 - MEAN[c]) / STD[c];
            }
        }
        Ok(())
    }
}

struct Job {
    images: Vec<Bytes>,
    reply: oneshot::Sender<std::result::Result<Tensor, Refusal>>,
}

/// CPU threads that decode images for the network threads.
pub struct PrepPool {
    jobs: Option<Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

impl PrepPool {
    /// Starts `threads` decoding threads.
    pub fn start(prep: ImagePrep, threads: usize) -> Result<Self> {
        let (tx, rx) = unbounded::<Job>();
        let threads = (0..threads.max(1))
            .map(|k| {
                let rx: Receiver<Job> = rx.clone();
                std::thread::Builder::new()
                    .name(format!("preprocess-{k}"))
                    .spawn(move || {
                        // Decoding is plain Rust: keep libtorch's threads out of it.
                        tch::set_num_threads(1);
                        for job in rx {
                            let _ = job.reply.send(prep.decode(&job.images));
                        }
                    })
                    .map_err(|e| {
                        Error::Pipeline(format!("cannot start a pre-processing thread: {e}"))
                    })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            jobs: Some(tx),
            threads,
        })
    }

    /// Decodes `images` on a pool thread.
    pub async fn decode(&self, images: Vec<Bytes>) -> std::result::Result<Tensor, Refusal> {
        let (reply, answer) = oneshot::channel();
        let stopped = || Refusal::unavailable("the server is stopping");
        self.jobs
            .as_ref()
            .ok_or_else(stopped)?
            .send(Job { images, reply })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

impl Drop for PrepPool {
    fn drop(&mut self) {
        self.jobs = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32, rgb: [u8; 3]) -> Bytes {
        let img = image::RgbImage::from_pixel(w, h, image::Rgb(rgb));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        Bytes::from(out.into_inner())
    }

    #[test]
    fn images_are_resized_and_normalised_channel_first() {
        let prep = ImagePrep {
            height: 4,
            width: 6,
            kind: Kind::Float,
        };
        let t = prep
            .decode(&[png(10, 7, [255, 0, 128]), png(3, 3, [0, 0, 0])])
            .unwrap();
        assert_eq!(t.size(), [2, 3, 4, 6]);
        let red = t.get(0).get(0).mean(Kind::Float).double_value(&[]);
        assert!((red - (1.0 - 0.485) / 0.229).abs() < 1e-4, "{red}");
        let blue = t.get(1).get(2).mean(Kind::Float).double_value(&[]);
        assert!((blue + 0.406 / 0.225).abs() < 1e-4, "{blue}");
    }

    #[test]
    fn bytes_that_are_no_image_are_named() {
        let prep = ImagePrep {
            height: 4,
            width: 4,
            kind: Kind::Half,
        };
        let err = prep
            .decode(&[png(2, 2, [1, 2, 3]), Bytes::from_static(b"not an image")])
            .unwrap_err();
        assert!(err.message.starts_with("image 1:"), "{err}");
        assert_eq!(err.http_status(), 400);
        assert_eq!(
            prep.decode(&[png(2, 2, [1, 2, 3])]).unwrap().kind(),
            Kind::Half
        );
    }

    #[test]
    fn only_a_three_channel_float_image_input_takes_images() {
        let ok = ImagePrep::for_inputs(&["3x224x200:f32".parse().unwrap()]).unwrap();
        assert_eq!((ok.height, ok.width), (224, 200));
        for bad in [
            vec!["128:i64:0..10"],
            vec!["1x8x8:f32"],
            vec!["3x8x8:f32", "3x8x8:f32"],
        ] {
            let specs: Vec<InputSpec> = bad.iter().map(|s| s.parse().unwrap()).collect();
            assert!(ImagePrep::for_inputs(&specs).is_err(), "{bad:?}");
        }
    }
}
