package plots

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// run is what the figures read of the JSON: of make bench, the baselines
// and each topology's phases and memory samples; of make bench-scale, its
// steps and fixed-rate phases.
type run struct {
	Baselines  []baseline   `json:"baselines"`
	Topologies []topology   `json:"topologies"`
	Steps      []scaleStep  `json:"steps"`
	Rated      []scaleRated `json:"rated"`
}

type baseline struct {
	Concurrency int     `json:"concurrency"`
	Creates     float64 `json:"ingresseEventCreatesPerSec"`
	Updates     float64 `json:"ingresseEventUpdatesPerSec"`
}

type topology struct {
	Name   string   `json:"name"`
	Phases []phase  `json:"phases"`
	Memory []sample `json:"memory"`
}

type phase struct {
	Name        string    `json:"name"`
	Concurrency int       `json:"concurrency"`
	TargetRate  float64   `json:"targetRatePerSec"`
	PerSec      float64   `json:"ingestPerSec"`
	HTTP        quantiles `json:"httpAnswer"`
	Ready       quantiles `json:"postToReady"`
}

type quantiles struct {
	P50 float64 `json:"p50ms"`
	P95 float64 `json:"p95ms"`
	P99 float64 `json:"p99ms"`
}

type sample struct {
	Process string  `json:"process"`
	Stored  int     `json:"storedEvents"`
	RSS     float64 `json:"rssMiB"`
	Heap    float64 `json:"heapInuseMiB"`
}

type scaleStep struct {
	Stored int      `json:"stored"`
	Memory []sample `json:"memory"`
}

type scaleRated struct {
	Stored int       `json:"stored"`
	Rate   float64   `json:"rate"`
	HTTP   quantiles `json:"httpMs"`
	Ready  quantiles `json:"readyMs"`
}

// The changed phase is judged against the baseline's updates, every other
// against its creates, as the bench's tables do.
const phaseChanged = "changed"

// throughput is the 2xx deliveries per second of each phase sent from a
// fixed number of senders (the fixed-rate phases run at the rate they were
// given), for each topology, next to the API server's own rate at the
// same concurrency.
func throughput(r *run) (*svgPage, error) {
	var cats []phase
	for _, t := range r.Topologies {
		for _, p := range t.Phases {
			if p.TargetRate == 0 && p.PerSec > 0 && !slices.ContainsFunc(cats, func(c phase) bool { return c.Name == p.Name }) {
				cats = append(cats, p)
			}
		}
	}
	if len(cats) == 0 {
		return nil, nil
	}
	type series struct {
		name     string
		values   plotter.Values
		baseline bool
	}
	var all []series
	for _, t := range r.Topologies {
		s := series{name: t.Name, values: make(plotter.Values, len(cats))}
		for i, c := range cats {
			if p := t.phase(c.Name); p != nil && p.TargetRate == 0 {
				s.values[i] = p.PerSec
			}
		}
		all = append(all, s)
	}
	base := series{name: "API server alone: IngresseEvent creates/s (updates/s for " + phaseChanged + ")", values: make(plotter.Values, len(cats)), baseline: true}
	for i, c := range cats {
		base.values[i] = r.baselineRate(c.Concurrency, c.Name == phaseChanged)
	}
	if slices.ContainsFunc(base.values, func(v float64) bool { return v > 0 }) {
		all = append(all, base)
	}

	p := newPlot("Throughput per phase, against the API server alone", "", "2xx deliveries per second")
	labels := make([]string, len(cats))
	for i, c := range cats {
		labels[i] = c.label()
	}
	p.NominalX(labels...)
	const plotWidth = 560 // points, about the data area of the page below
	width := vg.Points(min(28, 0.7*plotWidth/float64(len(cats)*len(all))))
	top := 0.0
	for i, s := range all {
		bars, err := plotter.NewBarChart(s.values, width)
		if err != nil {
			return nil, err
		}
		bars.Color = seriesColor(i, s.baseline)
		bars.LineStyle.Width = 0
		bars.Offset = width * vg.Length(float64(i)-float64(len(all)-1)/2)
		values, err := barLabels(s.values, bars.Offset)
		if err != nil {
			return nil, err
		}
		p.Add(bars, values)
		p.Legend.Add(s.name, bars)
		top = max(top, slices.Max(s.values))
	}
	p.X.Min, p.X.Max = -0.5, float64(len(cats))-0.5
	p.Y.Min, p.Y.Max = 0, top*1.3
	p.Legend.Top, p.Legend.Left = true, true
	return &svgPage{w: 640, h: 360, plots: []*plot.Plot{p}}, nil
}

// barLabels writes each bar's value above it; a zero is no bar.
func barLabels(values plotter.Values, offset vg.Length) (*plotter.Labels, error) {
	var xys plotter.XYs
	var text []string
	for i, v := range values {
		if v > 0 {
			xys = append(xys, plotter.XY{X: float64(i), Y: v})
			text = append(text, strconv.FormatFloat(v, 'f', 0, 64))
		}
	}
	l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: text})
	if err != nil {
		return nil, err
	}
	for i := range l.TextStyle {
		l.TextStyle[i] = tickStyle(l.TextStyle[i], 8)
		l.TextStyle[i].XAlign = draw.XCenter
		l.TextStyle[i].YAlign = draw.YBottom
	}
	l.Offset = vg.Point{X: offset, Y: vg.Points(1)}
	return l, nil
}

// latency is the HTTP answer and POST to Ready quantiles of each phase
// and topology (make bench), or at each step measured at a fixed rate
// (make bench-scale).
func latency(r *run) (*svgPage, error) {
	var cats []string
	var http, ready []quantileSeries
	switch {
	case len(r.Topologies) > 0:
		for _, t := range r.Topologies {
			for _, p := range t.Phases {
				if !slices.Contains(cats, p.label()) {
					cats = append(cats, p.label())
				}
			}
		}
		for _, t := range r.Topologies {
			h := quantileSeries{name: t.Name, q: make([]quantiles, len(cats))}
			rd := quantileSeries{name: t.Name, q: make([]quantiles, len(cats))}
			for _, p := range t.Phases {
				i := slices.Index(cats, p.label())
				h.q[i], rd.q[i] = p.HTTP, p.Ready
			}
			http, ready = append(http, h), append(ready, rd)
		}
	case len(r.Rated) > 0:
		h := quantileSeries{name: "installed", q: make([]quantiles, len(r.Rated))}
		rd := quantileSeries{name: "installed", q: make([]quantiles, len(r.Rated))}
		for i, rt := range r.Rated {
			cats = append(cats, fmt.Sprintf("%s stored\n%.0f deliveries/s", thousands(rt.Stored), rt.Rate))
			h.q[i], rd.q[i] = rt.HTTP, rt.Ready
		}
		http, ready = []quantileSeries{h}, []quantileSeries{rd}
	}
	var panels []*plot.Plot
	for _, panel := range []struct {
		title  string
		series []quantileSeries
	}{{"HTTP answer", http}, {"POST → Ready", ready}} {
		p, err := quantilePlot(panel.title, cats, panel.series, len(panels) == 0)
		if err != nil {
			return nil, err
		}
		if p != nil {
			panels = append(panels, p)
		}
	}
	if len(panels) == 0 {
		return nil, nil
	}
	return &svgPage{w: vg.Length(40 + 380*len(panels)), h: 380, plots: panels}, nil
}

// quantileSeries is one topology's quantiles in each category; a zero p50
// is no data.
type quantileSeries struct {
	name string
	q    []quantiles
}

// quantilePlot draws each series' p50, p95 and p99 in each category that
// has any, on a log scale, joined by a line from p50 to p99; nil when no
// category has data.
func quantilePlot(title string, cats []string, series []quantileSeries, legend bool) (*plot.Plot, error) {
	var keep []int
	for i := range cats {
		if slices.ContainsFunc(series, func(s quantileSeries) bool { return s.q[i].P50 > 0 }) {
			keep = append(keep, i)
		}
	}
	if len(keep) == 0 {
		return nil, nil
	}
	p := newPlot(title, "", "log scale")
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = msLogTicks{}
	labels := make([]string, len(keep))
	for x, i := range keep {
		labels[x] = cats[i]
	}
	p.NominalX(labels...)
	glyphs := []struct {
		name  string
		shape draw.GlyphDrawer
		at    func(quantiles) float64
	}{
		{"p50", draw.CircleGlyph{}, func(q quantiles) float64 { return q.P50 }},
		{"p95", draw.TriangleGlyph{}, func(q quantiles) float64 { return q.P95 }},
		{"p99", draw.BoxGlyph{}, func(q quantiles) float64 { return q.P99 }},
	}
	lo, hi := math.Inf(1), 0.0
	for j, s := range series {
		clr := seriesColor(j, false)
		shift := (float64(j) - float64(len(series)-1)/2) * 0.22
		for _, g := range glyphs {
			var xys plotter.XYs
			for x, i := range keep {
				if v := g.at(s.q[i]); v > 0 {
					xys = append(xys, plotter.XY{X: float64(x) + shift, Y: v})
					lo, hi = min(lo, v), max(hi, v)
				}
			}
			if len(xys) == 0 {
				continue
			}
			sc, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: clr, Radius: vg.Points(3), Shape: g.shape}
			p.Add(sc)
		}
		for x, i := range keep {
			if q := s.q[i]; q.P50 > 0 && q.P99 > 0 {
				l, err := plotter.NewLine(plotter.XYs{{X: float64(x) + shift, Y: q.P50}, {X: float64(x) + shift, Y: q.P99}})
				if err != nil {
					return nil, err
				}
				l.LineStyle = draw.LineStyle{Color: clr, Width: vg.Points(1)}
				p.Add(l)
			}
		}
		if legend {
			p.Legend.Add(s.name, swatch{clr})
		}
	}
	if legend {
		for _, g := range glyphs {
			sc, err := plotter.NewScatter(plotter.XYs{})
			if err != nil {
				return nil, err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(3), Shape: g.shape}
			p.Legend.Add(g.name, sc)
		}
		p.Legend.Top, p.Legend.Left = true, true
	}
	// From decade to decade (each panel then has a label at its top, and
	// their titles line up), with a decade of room above the data for the
	// legend.
	p.X.Min, p.X.Max = -0.5, float64(len(keep))-0.5
	p.Y.Min, p.Y.Max = decades(lo, hi*10)
	return p, nil
}

// memory is each process's RSS and heap in use against the events stored
// when they were sampled.
func memory(r *run) (*svgPage, error) {
	type key struct{ topology, process string }
	var order []key
	samples := map[key][]sample{}
	add := func(k key, s sample) {
		if _, ok := samples[k]; !ok {
			order = append(order, k)
		}
		samples[k] = append(samples[k], s)
	}
	title := "Memory of each manager process against stored events"
	for _, t := range r.Topologies {
		for _, s := range t.Memory {
			add(key{t.Name, s.Process}, s)
		}
	}
	if len(r.Topologies) == 0 {
		title = "Memory against stored events (installed topology)"
		for _, st := range r.Steps {
			for _, s := range st.Memory {
				s.Stored = st.Stored
				add(key{"", s.Process}, s)
			}
		}
	}
	if len(order) == 0 {
		return nil, nil
	}
	p := newPlot(title, "stored IngresseEvents", "MiB")
	p.X.Tick.Marker = linearTicks{label: kilo}
	top := 0.0
	for i, k := range order {
		ss := slices.Clone(samples[k])
		slices.SortStableFunc(ss, func(a, b sample) int { return a.Stored - b.Stored })
		name := k.process
		if k.topology != "" {
			name = k.topology + " " + k.process
		}
		clr := seriesColor(i, false)
		for _, m := range []struct {
			what   string
			dashed bool
			of     func(sample) float64
		}{{"RSS", false, func(s sample) float64 { return s.RSS }}, {"heap in use", true, func(s sample) float64 { return s.Heap }}} {
			xys := make(plotter.XYs, len(ss))
			for j, s := range ss {
				xys[j] = plotter.XY{X: float64(s.Stored), Y: m.of(s)}
				top = max(top, xys[j].Y)
			}
			l, pts, err := plotter.NewLinePoints(xys)
			if err != nil {
				return nil, err
			}
			l.LineStyle = draw.LineStyle{Color: clr, Width: vg.Points(1.5)}
			if m.dashed {
				l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			}
			pts.GlyphStyle = draw.GlyphStyle{Color: clr, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
			p.Add(l, pts)
			p.Legend.Add(name+" "+m.what, l, pts)
		}
	}
	p.X.Min, p.Y.Min, p.Y.Max = 0, 0, top*1.15
	p.Legend.Top, p.Legend.Left = true, true
	return &svgPage{w: 640, h: 400, plots: []*plot.Plot{p}}, nil
}

// label names p on an axis: its name, and its concurrency or that it was
// sent at a fixed rate.
func (p phase) label() string {
	if p.TargetRate > 0 {
		return p.Name + "\nfixed rate"
	}
	return p.Name + "\nC=" + strconv.Itoa(p.Concurrency)
}

// phase is t's phase of that name, or nil.
func (t *topology) phase(name string) *phase {
	for i := range t.Phases {
		if t.Phases[i].Name == name {
			return &t.Phases[i]
		}
	}
	return nil
}

// baselineRate is the mean of the baselines measured at concurrency c:
// IngresseEvent updates per second when updates is set, else creates;
// zero when none was.
func (r *run) baselineRate(c int, updates bool) float64 {
	sum, n := 0.0, 0
	for _, b := range r.Baselines {
		if b.Concurrency != c {
			continue
		}
		if updates {
			sum += b.Updates
		} else {
			sum += b.Creates
		}
		n++
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}
