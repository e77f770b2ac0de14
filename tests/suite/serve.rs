//! `inferbench serve` on loopback, driven in process: answers over REST (JSON and
//! binary) and gRPC equal the model's own for each request alone; every bad request
//! gets the protocol's error and status; a client that hangs up, a failed pipeline
//! and a shutdown with requests in flight each end as the protocol says. Assertions
//! are on answers and counts, never on how fast anything was.

use crate::common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::wire::{get, metric, request};
use inferbench::config::{BatchPolicy, RunConfig};
use inferbench::model::{prepare, Batches};
use inferbench::oip::binary::{decode_response, encode_request, HEADER_LENGTH};
use inferbench::oip::grpc::grpc_inference_service_client::GrpcInferenceServiceClient;
use inferbench::oip::{grpc, Datatype, TensorData, WireTensor};
use inferbench::serve::{self, Postprocess, Running, ServeOptions};
use tch::Tensor;

const MODEL: &str = "tiny";

/// tiny-cnn at 16 px, requests of up to 2 samples, two workers, dynamic batching.
fn tiny() -> RunConfig {
    let mut cfg = RunConfig::default();
    cfg.model.name = "tiny-cnn".into();
    cfg.model.image_size = 16;
    cfg.load.batch_size = 2;
    cfg.load.seed = 5;
    cfg.backend.workers = 2;
    cfg.backend.intra_op_threads = Some(1);
    cfg.backend.batching = BatchPolicy::Dynamic {
        max_batch_samples: 4,
        timeout_us: 2000,
    };
    cfg.measure_bare_forward = false;
    cfg
}

fn options() -> ServeOptions {
    ServeOptions {
        http: "127.0.0.1:0".parse().unwrap(),
        grpc: Some("127.0.0.1:0".parse().unwrap()),
        max_body: 64 << 10,
        io_threads: 1,
        preprocess_threads: None,
        postprocess: Postprocess::None,
        model_name: Some(MODEL.into()),
        drain_timeout: Duration::from_secs(30),
    }
}

fn start(cfg: &RunConfig, options: &ServeOptions) -> Running {
    let mut running =
        serve::start(cfg, options, Arc::new(|_: &str| {})).expect("the server starts");
    assert!(
        running.wait_ready(Duration::from_secs(300)).unwrap(),
        "ready within 5 minutes"
    );
    running
}

fn infer_path() -> String {
    format!("/v2/models/{MODEL}/infer")
}

/// `n` images of `side` px drawn from `seed`, as a host tensor and as the wire's.
fn images(n: i64, side: i64, seed: i64) -> (Tensor, WireTensor) {
    tch::manual_seed(seed);
    let t = Tensor::randn([n, 3, side, side], (tch::Kind::Float, tch::Device::Cpu));
    let wire = inferbench::oip::torch::from_torch("input__0", &t).unwrap();
    (t, wire)
}

fn values(t: &WireTensor) -> Vec<f32> {
    let TensorData::Fixed(b) = &t.data else {
        panic!("fixed-size output")
    };
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn largest_difference(got: &[f32], expected: &Tensor) -> f64 {
    let expected = Vec::<f32>::try_from(expected.reshape([-1])).unwrap();
    assert_eq!(got.len(), expected.len());
    got.iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs() as f64)
        .fold(0.0, f64::max)
}

fn rest(addr: SocketAddr, input: &WireTensor, binary: bool) -> Vec<f32> {
    let body = encode_request(std::slice::from_ref(input), binary, binary);
    let mut headers = vec![("Content-Type", "application/json".to_string())];
    if let Some(n) = body.header_len {
        headers.push((HEADER_LENGTH, n.to_string()));
    }
    let reply = request(addr, "POST", &infer_path(), &headers, &body.bytes);
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let header_len = reply.header(HEADER_LENGTH).map(|v| v.parse().unwrap());
    assert_eq!(header_len.is_some(), binary);
    let (response, outputs) = decode_response(&Bytes::from(reply.body), header_len).unwrap();
    assert_eq!(response.model_name, MODEL);
    assert_eq!(outputs[0].shape, vec![input.shape[0], 10]);
    values(&outputs[0])
}

#[test]
fn answers_over_rest_and_grpc_equal_the_model_alone() {
    let cfg = tiny();
    let running = start(&cfg, &options());
    let at = running.listening();
    let batches = Batches { example: 2, max: 4 };
    let model = prepare(
        &cfg.model,
        batches,
        cfg.load.seed,
        tch::Device::Cpu,
        &mut |_| {},
    )
    .unwrap();
    let reference = model.instance().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut grpc_client = runtime
        .block_on(GrpcInferenceServiceClient::connect(format!(
            "http://{}",
            at.grpc.unwrap()
        )))
        .unwrap();
    let _no_grad = tch::no_grad_guard();
    let mut worst = 0.0f64;
    let mut answered = 0;
    for k in 0..6 {
        let (x, wire) = images(1 + k % 2, 16, k);
        let expected = reference.forward(&[x]).unwrap();
        worst = worst.max(largest_difference(&rest(at.http, &wire, false), &expected));
        worst = worst.max(largest_difference(&rest(at.http, &wire, true), &expected));
        let reply = runtime
            .block_on(
                grpc_client.model_infer(grpc::infer_request(MODEL, std::slice::from_ref(&wire))),
            )
            .unwrap()
            .into_inner();
        let outputs = grpc::response_outputs(reply).unwrap();
        worst = worst.max(largest_difference(&values(&outputs[0]), &expected));
        answered += 3;
    }
    assert!(
        worst < 1e-5,
        "a served answer differs from the model's by {worst}"
    );
    let metrics = String::from_utf8(get(at.http, "/metrics").body).unwrap();
    let success = metric(&metrics, "nv_inference_request_success", "model=\"tiny\"");
    assert_eq!(success, answered as f64, "{metrics}");
    let served = running.stop().unwrap();
    assert_eq!(served.answered, answered);
    assert!(served.stages_ms.iter().any(|(s, _)| *s == "compute"));
}

#[test]
fn health_and_metadata_follow_the_protocol() {
    let running = start(&tiny(), &options());
    let at = running.listening().http;
    assert_eq!(get(at, "/v2/health/live").json()["live"], true);
    assert_eq!(get(at, "/v2/health/ready").json()["ready"], true);
    assert_eq!(get(at, "/v2").json()["name"], "inferbench");
    let m = get(at, &format!("/v2/models/{MODEL}/versions/1")).json();
    assert_eq!(m["inputs"][0]["shape"], serde_json::json!([-1, 3, 16, 16]));
    assert_eq!(m["outputs"][0]["datatype"], "FP32");
    assert_eq!(get(at, &format!("/v2/models/{MODEL}/ready")).status, 200);
    running.stop().unwrap();
}

/// A JSON inference body of one input.
fn json_body(name: &str, shape: &[i64], datatype: &str) -> String {
    let n: i64 = shape.iter().product();
    serde_json::json!({
        "inputs": [{"name": name, "shape": shape, "datatype": datatype, "data": vec![0.5; n as usize]}]
    })
    .to_string()
}

#[test]
fn bad_requests_get_the_protocols_errors_and_the_server_goes_on() {
    let running = start(&tiny(), &options());
    let at = running.listening().http;
    let post =
        |body: &[u8], headers: &[(&str, String)]| request(at, "POST", &infer_path(), headers, body);
    let json = |body: String| post(body.as_bytes(), &[]);
    let good = json_body("input__0", &[1, 3, 16, 16], "FP32");
    let too_big = vec![b' '; 65 << 10];
    let infer_cases = vec![
        (
            json("{not json".into()),
            400,
            "not a valid inference request",
        ),
        (
            json(json_body("input__0", &[1, 3, 16, 8], "FP32")),
            400,
            "where the model takes [N, 3, 16, 16]",
        ),
        (
            json(json_body("input__0", &[1, 3, 16, 16], "FP64")),
            400,
            "datatype FP64 where the model takes FP32",
        ),
        (
            json(json_body("pixels", &[1, 3, 16, 16], "FP32")),
            400,
            "unknown input 'pixels'",
        ),
        (
            json(json_body("input__0", &[3, 3, 16, 16], "FP32")),
            400,
            "1 to 2",
        ),
        (
            json(good.replace("\"data\"", "\"dots\"")),
            400,
            "neither data nor binary_data_size",
        ),
        (post(&too_big, &[]), 413, "at most 65536 bytes"),
        (
            post(
                &chunked(&too_big),
                &[("Transfer-Encoding", "chunked".into())],
            ),
            413,
            "at most 65536 bytes",
        ),
        (
            post(good.as_bytes(), &[(HEADER_LENGTH, "x".into())]),
            400,
            "not a whole number",
        ),
    ];
    let other_cases = vec![
        // Another model's request: refused, and not counted as this model's failure.
        (
            request(
                at,
                "POST",
                "/v2/models/resnet50/infer",
                &[],
                good.as_bytes(),
            ),
            404,
            "unknown model 'resnet50'",
        ),
        (get(at, "/v3/anything"), 404, "no such endpoint"),
        (get(at, &infer_path()), 405, "not allowed"),
    ];
    let refusals = infer_cases.len();
    for (k, (reply, status, needle)) in infer_cases.into_iter().chain(other_cases).enumerate() {
        assert_eq!(
            reply.status,
            status,
            "case {k}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let error = reply.error();
        assert!(
            error.contains(needle),
            "case {k}: '{error}' lacks '{needle}'"
        );
    }
    assert_eq!(json(good).status, 200, "a good request after the bad ones");
    let metrics = String::from_utf8(get(at, "/metrics").body).unwrap();
    assert_eq!(
        metric(
            &metrics,
            "nv_inference_request_failure",
            "reason=\"REJECTED\""
        ),
        refusals as f64
    );
    assert_eq!(metric(&metrics, "nv_inference_request_success", ""), 1.0);
    running.stop().unwrap();
}

/// `body` in chunked transfer encoding.
fn chunked(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in body.chunks(4096) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// Waits (at most a minute) until `done` holds.
fn eventually(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what} never happened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_client_that_hangs_up_mid_body_is_counted_and_the_server_goes_on() {
    use std::io::Write;
    let running = start(&tiny(), &options());
    let at = running.listening().http;
    {
        let mut stream = std::net::TcpStream::connect(at).unwrap();
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n",
            infer_path()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&[b'{'; 100]).unwrap();
    }
    let canceled = || {
        let metrics = String::from_utf8(get(at, "/metrics").body).unwrap();
        metric(
            &metrics,
            "nv_inference_request_failure",
            "reason=\"CANCELED\"",
        )
    };
    eventually("the hung-up request counted as canceled", || {
        canceled() == 1.0
    });
    let (_, good) = images(2, 16, 3);
    assert_eq!(rest(at, &good, true).len(), 20);
    running.stop().unwrap();
}

#[test]
fn stopping_answers_the_requests_in_flight_first() {
    let mut cfg = tiny();
    cfg.model.name = "spin:300ms".into();
    cfg.backend.workers = 1;
    let running = start(&cfg, &options());
    let at = running.listening().http;
    let (_, input) = images(1, 16, 4);
    let client = std::thread::spawn(move || {
        let body = encode_request(std::slice::from_ref(&input), false, false);
        request(at, "POST", &infer_path(), &[], &body.bytes)
    });
    let engine = Arc::clone(running.engine());
    eventually("the request reached the pipeline", || engine.waiting() == 1);
    let served = running.stop().unwrap();
    let reply = client.join().unwrap();
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(served.answered, 1);
}

#[test]
fn a_failed_pipeline_is_not_live_and_every_answer_says_why() {
    let mut cfg = tiny();
    // Warm-up (1 + 2) and the probe are forwards 1-4; the 6th is the second served one.
    cfg.model.name = "fail:spin:1ms@6".into();
    cfg.backend.workers = 1;
    cfg.backend.batching = BatchPolicy::None;
    let running = start(&cfg, &options());
    let at = running.listening().http;
    let (_, input) = images(1, 16, 6);
    let body = encode_request(std::slice::from_ref(&input), false, false);
    let post = || request(at, "POST", &infer_path(), &[], &body.bytes);
    assert_eq!(post().status, 200);
    let failed = post();
    assert_eq!(failed.status, 500);
    assert!(
        failed.error().contains("the pipeline failed"),
        "{}",
        failed.error()
    );
    let after = post();
    assert_eq!(after.status, 503);
    assert!(
        after.error().contains("restart the server"),
        "{}",
        after.error()
    );
    assert_eq!(get(at, "/v2/health/live").status, 503);
    assert_eq!(get(at, "/v2/health/ready").status, 503);
    let served = running.stop().unwrap();
    assert!(served.failure.is_some());
}

#[test]
fn encoded_images_are_decoded_and_answered_with_the_top_classes() {
    let cfg = tiny();
    let mut opts = options();
    opts.preprocess_threads = Some(1);
    opts.postprocess = Postprocess::TopK(3);
    let running = start(&cfg, &opts);
    let at = running.listening().http;
    let m = get(at, &format!("/v2/models/{MODEL}")).json();
    assert_eq!(
        m["inputs"][0],
        serde_json::json!({"name": "image", "datatype": "BYTES", "shape": [-1]})
    );
    let png = |rgb: [u8; 3]| {
        let img = image::RgbImage::from_fn(20, 12, |x, y| {
            image::Rgb([
                rgb[0].wrapping_add(x as u8 * 9),
                rgb[1],
                rgb[2].wrapping_add(y as u8 * 13),
            ])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        Bytes::from(out.into_inner())
    };
    let files = vec![png([10, 200, 30]), png([250, 5, 90])];
    let input = WireTensor {
        name: "image".into(),
        datatype: Datatype::Bytes,
        shape: vec![2],
        data: TensorData::Strings(files.clone()),
    };
    let body = encode_request(std::slice::from_ref(&input), true, false);
    let reply = request(
        at,
        "POST",
        &infer_path(),
        &[(HEADER_LENGTH, body.header_len.unwrap().to_string())],
        &body.bytes,
    );
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let (_, outputs) = decode_response(&Bytes::from(reply.body), None).unwrap();
    let names: Vec<&str> = outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["classes", "scores"]);
    // The same pre-processing and model, here: the same top classes.
    let prep = inferbench::serve::preprocess::ImagePrep {
        height: 16,
        width: 16,
        kind: tch::Kind::Float,
    };
    let x = prep.decode(&files).unwrap();
    let batches = Batches { example: 2, max: 4 };
    let model = prepare(
        &cfg.model,
        batches,
        cfg.load.seed,
        tch::Device::Cpu,
        &mut |_| {},
    )
    .unwrap();
    let _no_grad = tch::no_grad_guard();
    let logits = model.instance().unwrap().forward(&[x]).unwrap();
    let (_, top) = logits.softmax(-1, tch::Kind::Float).topk(3, -1, true, true);
    let TensorData::Fixed(classes) = &outputs[0].data else {
        panic!("INT64 classes")
    };
    let served: Vec<i64> = classes
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(served, Vec::<i64>::try_from(top.reshape([-1])).unwrap());
    let refused = request(
        at,
        "POST",
        &infer_path(),
        &[(HEADER_LENGTH, "0".into())],
        b"",
    );
    assert_eq!(refused.status, 400);
    running.stop().unwrap();
}
