//! Latency histograms, the process-wide clock that send timestamps are
//! taken from, readings of /proc (CPU seconds and RSS of the server under
//! test), and the report every scenario ends with: a human summary and one
//! JSON line.

use hdrhistogram::Histogram;
use serde_json::{Map, Value};
use std::sync::OnceLock;
use std::time::Instant;

/// Microseconds since the first call in this process. Senders put this in
/// the message content; receivers in the same process subtract it from
/// their own reading, so no clock sync is involved.
pub fn now_us() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// Latencies in microseconds, 1 µs to 1 hour, 3 significant digits.
pub struct Hist(Histogram<u64>);

impl Hist {
    pub fn new() -> Hist {
        Hist(Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds"))
    }

    pub fn record(&mut self, us: u64) {
        self.0.saturating_record(us.max(1));
    }

    pub fn merge(&mut self, other: &Hist) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.0.add(&other.0);
    }

    pub fn quantile_us(&self, q: f64) -> u64 {
        if self.0.is_empty() {
            0
        } else {
            self.0.value_at_quantile(q)
        }
    }

    pub fn max_us(&self) -> u64 {
        if self.0.is_empty() {
            0
        } else {
            self.0.max()
        }
    }

    pub fn mean_us(&self) -> f64 {
        self.0.mean()
    }

    /// `{prefix}_p50_us`, `_p99_us`, `_p999_us`, `_max_us`, `_mean_us`.
    pub fn report_into(&self, r: &mut Report, prefix: &str) {
        r.num(&format!("{prefix}_p50_us"), self.quantile_us(0.50));
        r.num(&format!("{prefix}_p99_us"), self.quantile_us(0.99));
        r.num(&format!("{prefix}_p999_us"), self.quantile_us(0.999));
        r.num(&format!("{prefix}_max_us"), self.max_us());
        r.num(&format!("{prefix}_mean_us"), round2(self.mean_us()));
    }
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// (user, system) CPU seconds of a process — utime and stime from
/// /proc/PID/stat, which include its threads that have exited.
pub fn cpu_times(pid: &str) -> Option<(f64, f64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces; the
    // fields after the last ')' start at field 3 (state).
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let tck = clock_ticks();
    Some((utime / tck, stime / tck))
}

/// utime + stime of a process, in seconds.
pub fn cpu_secs(pid: &str) -> Option<f64> {
    cpu_times(pid).map(|(u, s)| u + s)
}

/// Resident set size in bytes, from VmRSS in /proc/PID/status.
pub fn rss_bytes(pid: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Busy CPU seconds of the whole machine (all CPUs, everything but idle
/// and iowait), from /proc/stat.
pub fn machine_busy_secs() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<f64> = line
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest is in user).
    let busy = v.iter().take(8).sum::<f64>() - v.get(3)? - v.get(4)?;
    Some(busy / clock_ticks())
}

/// CPU used by the server under test (if its pid is known), by this
/// process and by the whole machine over a measured window.
pub struct CpuWindow {
    server_pid: Option<u32>,
    server_start: Option<(f64, f64)>,
    self_start: Option<f64>,
    machine_start: Option<f64>,
    wall_start: Instant,
}

pub struct CpuUsed {
    pub wall_secs: f64,
    pub server_cpu_secs: Option<f64>,
    /// Of which in the kernel (on loopback that includes the receiving
    /// side's TCP processing of what the server sends).
    pub server_sys_secs: Option<f64>,
    pub load_cpu_secs: Option<f64>,
    pub machine_cpu_secs: Option<f64>,
}

impl CpuWindow {
    pub fn start(server_pid: Option<u32>) -> CpuWindow {
        CpuWindow {
            server_pid,
            server_start: server_pid.and_then(|p| cpu_times(&p.to_string())),
            self_start: cpu_secs("self"),
            machine_start: machine_busy_secs(),
            wall_start: Instant::now(),
        }
    }

    pub fn stop(&self) -> CpuUsed {
        let server_now = self.server_pid.and_then(|p| cpu_times(&p.to_string()));
        let self_now = cpu_secs("self");
        let server = match (self.server_start, server_now) {
            (Some(a), Some(b)) => Some((b.0 - a.0, b.1 - a.1)),
            _ => None,
        };
        CpuUsed {
            wall_secs: self.wall_start.elapsed().as_secs_f64(),
            server_cpu_secs: server.map(|(u, s)| u + s),
            server_sys_secs: server.map(|(_, s)| s),
            load_cpu_secs: match (self.self_start, self_now) {
                (Some(a), Some(b)) => Some(b - a),
                _ => None,
            },
            machine_cpu_secs: match (self.machine_start, machine_busy_secs()) {
                (Some(a), Some(b)) => Some(b - a),
                _ => None,
            },
        }
    }
}

impl CpuUsed {
    /// Adds the CPU numbers, and `server_cpu_us_per_{per}` when the
    /// server's CPU is known and `count` is not zero.
    pub fn report_into(&self, r: &mut Report, per: &str, count: u64) {
        r.num("window_secs", round4(self.wall_secs));
        if let Some(load) = self.load_cpu_secs {
            r.num("load_cpu_secs", round4(load));
        }
        // What neither the server nor this process used: other programs on
        // the machine competing for the same CPUs during the measurement.
        if let (Some(machine), Some(load)) = (self.machine_cpu_secs, self.load_cpu_secs) {
            let other = (machine - load - self.server_cpu_secs.unwrap_or(0.0)).max(0.0);
            r.num("machine_cpu_secs", round4(machine));
            r.num("other_cpu_cores", round4(other / self.wall_secs.max(1e-9)));
            if self.server_cpu_secs.is_some() && other / self.wall_secs.max(1e-9) > 0.1 {
                r.note(format!(
                    "other programs used {:.2} CPU cores during the measurement; numbers are disturbed",
                    other / self.wall_secs.max(1e-9)
                ));
            }
        }
        match self.server_cpu_secs {
            Some(cpu) => {
                r.num("server_cpu_secs", round4(cpu));
                if let Some(sys) = self.server_sys_secs {
                    r.num("server_sys_secs", round4(sys));
                }
                r.num("server_cpu_cores", round4(cpu / self.wall_secs.max(1e-9)));
                if count > 0 {
                    r.num(
                        &format!("server_cpu_us_per_{per}"),
                        round4(cpu * 1e6 / count as f64),
                    );
                }
            }
            None => r.note("server CPU not measured (pass --server-pid)"),
        }
    }
}

/// What a scenario prints at the end: `key: value` lines for people, then
/// exactly one JSON object on one line for scripts.
pub struct Report {
    fields: Vec<(String, Value)>,
    notes: Vec<String>,
}

impl Report {
    pub fn new(scenario: &str) -> Report {
        let mut r = Report {
            fields: Vec::new(),
            notes: Vec::new(),
        };
        r.fields.push(("scenario".into(), Value::from(scenario)));
        r
    }

    pub fn num(&mut self, key: &str, value: impl Into<Value>) {
        let value = value.into();
        if let Some(slot) = self.fields.iter_mut().find(|(k, _)| k == key) {
            slot.1 = value;
        } else {
            self.fields.push((key.to_owned(), value));
        }
    }

    pub fn text(&mut self, key: &str, value: &str) {
        self.num(key, Value::from(value));
    }

    pub fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    pub fn print(&self) {
        println!(
            "== palaver-load {} ==",
            self.fields[0].1.as_str().unwrap_or("?")
        );
        for (k, v) in &self.fields[1..] {
            println!("  {k:<34} {v}");
        }
        for n in &self.notes {
            println!("  note: {n}");
        }
        let mut map = Map::new();
        for (k, v) in &self.fields {
            map.insert(k.clone(), v.clone());
        }
        if !self.notes.is_empty() {
            map.insert("notes".into(), Value::from(self.notes.clone()));
        }
        println!("{}", Value::Object(map));
    }
}
