package plots

import (
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// newPlot is a plot whose text is all in Liberation Sans, with a grid
// behind the data.
func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle = tickStyle(p.Title.TextStyle, 12)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text, p.Y.Label.Text = x, y
	p.X.Label.TextStyle = tickStyle(p.X.Label.TextStyle, 10)
	p.Y.Label.TextStyle = tickStyle(p.Y.Label.TextStyle, 10)
	p.X.Tick.Label = tickStyle(p.X.Tick.Label, 9)
	p.Y.Tick.Label = tickStyle(p.Y.Tick.Label, 9)
	p.Legend.TextStyle = tickStyle(p.Legend.TextStyle, 9)
	p.Legend.ThumbnailWidth = vg.Points(18)
	p.Legend.Padding = vg.Points(2)
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(6), vg.Points(-2)
	p.Y.Tick.Marker = linearTicks{}
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	grid.Horizontal.Color = color.Gray{Y: 0xdd}
	p.Add(grid)
	return p
}

// tickStyle is s in Liberation Sans of size points.
func tickStyle(s text.Style, size float64) text.Style {
	s.Font.Variant = "Sans"
	s.Font.Size = vg.Points(size)
	return s
}

// palette is Okabe and Ito's, told apart by readers with any common colour
// blindness; the baseline is grey.
var palette = []color.Color{
	color.RGBA{0x00, 0x72, 0xb2, 0xff}, // blue
	color.RGBA{0xe6, 0x9f, 0x00, 0xff}, // orange
	color.RGBA{0x00, 0x9e, 0x73, 0xff}, // green
	color.RGBA{0xd5, 0x5e, 0x00, 0xff}, // vermillion
	color.RGBA{0xcc, 0x79, 0xa7, 0xff}, // purple
	color.RGBA{0x56, 0xb4, 0xe9, 0xff}, // sky blue
}

var baselineColor = color.RGBA{0x99, 0x99, 0x99, 0xff}

func seriesColor(i int, baseline bool) color.Color {
	if baseline {
		return baselineColor
	}
	return palette[i%len(palette)]
}

// swatch is a legend entry of one colour.
type swatch struct{ color.Color }

// Thumbnail implements plot.Thumbnailer.
func (s swatch) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(s.Color, c.ClipPolygonY([]vg.Point{
		{X: c.Min.X, Y: c.Min.Y}, {X: c.Min.X, Y: c.Max.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Max.X, Y: c.Min.Y},
	}))
}

// linearTicks are about six ticks a step of 1, 2 or 5 times a power of
// ten apart (gonum's default gives three), labelled with label, or as
// plain numbers when label is nil.
type linearTicks struct{ label func(float64) string }

// Ticks implements plot.Ticker.
func (t linearTicks) Ticks(lo, hi float64) []plot.Tick {
	label := t.label
	if label == nil {
		label = func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	}
	raw := (hi - lo) / 6
	if !(raw > 0) {
		return []plot.Tick{{Value: lo, Label: label(lo)}}
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ticks []plot.Tick
	for k := math.Ceil(lo / step); k*step <= hi; k++ {
		ticks = append(ticks, plot.Tick{Value: k * step, Label: label(k * step)})
	}
	return ticks
}

// kilo labels 20000 as 20k.
func kilo(v float64) string {
	if v >= 1000 {
		return strconv.FormatFloat(v/1000, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// msLogTicks are gonum's log ticks, milliseconds labelled 10 ms, 1 s.
type msLogTicks struct{}

// Ticks implements plot.Ticker.
func (msLogTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.LogTicks{Prec: -1}.Ticks(lo, hi)
	for i, t := range ticks {
		switch {
		case t.Label == "":
		case t.Value >= 1000:
			ticks[i].Label = strconv.FormatFloat(t.Value/1000, 'f', -1, 64) + " s"
		default:
			ticks[i].Label = strconv.FormatFloat(t.Value, 'f', -1, 64) + " ms"
		}
	}
	return ticks
}

// decades are the powers of ten around lo and hi: the largest at most lo,
// and the smallest at least hi.
func decades(lo, hi float64) (float64, float64) {
	return math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
}

// thousands is n with a comma between each group of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
