//! The model: CPU = idle + Σ rate × work + switches × a switch's cost, the
//! cost by the time between switches; fitted from the windows' measurements.

/// Operations a second, and streams open, of one workload. A save comes
/// back to its stream as a `saved` event: the two are one operation here.
#[derive(Clone, Copy, Default)]
pub(super) struct Load {
    pub(super) saves: f64,
    pub(super) streams: f64,
    pub(super) events: f64,
    pub(super) lists: f64,
    pub(super) uploads: f64,
    /// `GET /healthz` into the service, an empty script into Redis: the
    /// calibration's calls.
    pub(super) pings: f64,
}

/// CPU in cores (seconds of CPU a second), of the service and of Redis.
pub(super) type Cores = [f64; 2];

/// The CPU of one context switch (a sleep and a wake-up) of a process, in
/// seconds, by the time between its switches (the gap): measured at a few
/// gaps, linear in the gap's logarithm between them, level beyond them.
#[derive(Clone, Default)]
pub(super) struct Wake {
    /// (gap in seconds, cost), the shortest gap first.
    pub(super) points: Vec<(f64, f64)>,
}

impl Wake {
    /// The cost of a switch when the process switches `per_second` times a second.
    pub(super) fn cost(&self, per_second: f64) -> f64 {
        let gap = (1.0 / per_second.max(1e-9)).ln();
        let points: Vec<_> = (self.points.iter())
            .map(|&(gap, cost)| (gap.max(1e-9).ln(), cost))
            .collect();
        let [(first_gap, first), .., (last_gap, last)] = points[..] else {
            return 0.0;
        };
        if gap <= first_gap {
            return first;
        }
        if gap >= last_gap {
            return last;
        }
        points
            .windows(2)
            .find(|pair| gap <= pair[1].0)
            .map_or(last, |pair| {
                let [(g0, c0), (g1, c1)] = [pair[0], pair[1]];
                c0 + (gap - g0) / (g1 - g0).max(1e-9) * (c1 - c0)
            })
    }
}

/// The model: the processes' idle CPU and switches, the cost of a switch,
/// and the work of each operation, in CPU seconds (a stream: per second open).
#[derive(Default)]
pub(super) struct Model {
    pub(super) idle: Cores,
    pub(super) idle_switches: [f64; 2],
    pub(super) wake: [Wake; 2],
    pub(super) ping: Cores,
    pub(super) save: Cores,
    pub(super) list: Cores,
    pub(super) upload: Cores,
    /// A list's and an upload's CPU all told: their work and the switches
    /// they added to the saves' window they were measured beside.
    pub(super) told: [Cores; 2],
}

impl Model {
    /// The CPU of `load` in a process that switches `switches` times a second.
    pub(super) fn predict(&self, load: &Load, switches: [f64; 2]) -> Cores {
        [0, 1].map(|k| self.work(load)[k] + self.switching(switches, k))
    }

    /// Idle and the operations' work, without the switches.
    pub(super) fn work(&self, l: &Load) -> Cores {
        [0, 1].map(|k| {
            self.idle[k]
                + l.saves * self.save[k]
                + l.lists * self.list[k]
                + l.uploads * self.upload[k]
                + l.pings * self.ping[k]
        })
    }

    /// The CPU of process k's switches beyond idle's.
    fn switching(&self, switches: [f64; 2], k: usize) -> f64 {
        (switches[k] - self.idle_switches[k]).max(0.0) * self.wake[k].cost(switches[k])
    }
}

/// CPU in cores over a window, with what the window did.
pub(super) struct Measured {
    pub(super) cores: Cores,
    pub(super) generator: f64,
    pub(super) load: Load,
    /// Context switches a second, of the service's threads and of Redis's:
    /// how often they went to sleep and were woken (or preempted).
    pub(super) switches: [f64; 2],
    /// Seconds measured.
    pub(super) wall: f64,
}

impl Measured {
    /// This window and `more` of the same load as one longer window: each
    /// rate the mean of the two, by their time.
    pub(super) fn merge(&mut self, more: &Self) {
        let total = (self.wall + more.wall).max(1e-9);
        let mean = |a: f64, b: f64| (a * self.wall + b * more.wall) / total;
        let (a, b) = (self.load, more.load);
        self.load = Load {
            saves: mean(a.saves, b.saves),
            streams: mean(a.streams, b.streams),
            events: mean(a.events, b.events),
            lists: mean(a.lists, b.lists),
            uploads: mean(a.uploads, b.uploads),
            pings: mean(a.pings, b.pings),
        };
        self.cores = [0, 1].map(|k| mean(self.cores[k], more.cores[k]));
        self.switches = [0, 1].map(|k| mean(self.switches[k], more.switches[k]));
        self.generator = mean(self.generator, more.generator);
        self.wall = total;
    }
}

/// What a window is for.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Role {
    Idle,
    /// Calls of constant work as fast as they are answered: their work.
    CallWork,
    /// The same calls at a rate: the switch cost at the rate's gap.
    Calibration,
    /// Fits the work of the operation it adds.
    Fit(Term),
    Check,
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Term {
    Save,
    List,
    Upload,
}

/// The model: idle from the idle window; the calls' work where they come
/// as fast as answered, and the switch cost at each of their rates; then
/// each operation's work from the fitting window that adds it: what the
/// window measured less what the model so far explains (with the window's
/// own switches), per operation.
pub(super) fn fit(windows: &[(String, Role, Measured)]) -> Model {
    let mut model = Model::default();
    let mut calibration = Vec::new();
    for (_, role, m) in windows {
        match role {
            Role::Idle => (model.idle, model.idle_switches) = (m.cores, m.switches),
            Role::CallWork => {
                let calls = m.load.pings.max(1e-9);
                model.ping = [0, 1].map(|k| (m.cores[k] - model.idle[k]) / calls);
            }
            Role::Calibration => calibration.push(m),
            _ => {}
        }
    }
    model.wake = [0, 1].map(|k| calibrate(&model, k, &calibration));
    let mut saves_switches = [0.0; 2];
    for (_, role, m) in windows {
        let Role::Fit(term) = role else { continue };
        let l = m.load;
        let (without, rate) = match term {
            Term::Save => (Load { saves: 0.0, ..l }, l.saves),
            Term::List => (Load { lists: 0.0, ..l }, l.lists),
            Term::Upload => (Load { uploads: 0.0, ..l }, l.uploads),
        };
        let per = |known: Cores| [0, 1].map(|k| (m.cores[k] - known[k]) / rate.max(1e-9));
        let cost = per(model.predict(&without, m.switches));
        let told = per(model.predict(&without, saves_switches));
        match term {
            Term::Save => (model.save, saves_switches) = (cost, m.switches),
            Term::List => (model.list, model.told[0]) = (cost, told),
            Term::Upload => (model.upload, model.told[1]) = (cost, told),
        }
    }
    model
}

/// Process k's switch cost at each rate of calls of known work: what the
/// window used beyond idle and the calls' work, per switch beyond idle's.
fn calibrate(model: &Model, k: usize, windows: &[&Measured]) -> Wake {
    let point = |m: &&Measured| {
        let beyond = m.cores[k] - model.idle[k] - m.load.pings * model.ping[k];
        let switches = (m.switches[k] - model.idle_switches[k]).max(1e-9);
        (1.0 / m.switches[k].max(1e-9), beyond / switches)
    };
    let mut points: Vec<_> = windows.iter().map(point).collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    Wake { points }
}
