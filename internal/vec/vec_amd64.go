//go:build amd64 && !purego

package vec

import "golang.org/x/sys/cpu"

// useAsm is a read-only table entry set once at start-up from CPU features.
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func dotAVX(a, b *float64, n int) float64

//go:noescape
func axpyAVX(alpha float64, x, y *float64, n int)

//go:noescape
func quadUpperAVX(w, x *float64, d int) float64

func dot(a, b []float64) float64 {
	if useAsm {
		return dotAVX(&a[0], &b[0], len(a))
	}
	return dotGeneric(a, b)
}

func axpy(alpha float64, x, y []float64) {
	if useAsm {
		axpyAVX(alpha, &x[0], &y[0], len(x))
		return
	}
	axpyGeneric(alpha, x, y)
}

func quadUpper(w, x []float64) float64 {
	if useAsm {
		return quadUpperAVX(&w[0], &x[0], len(x))
	}
	return quadUpperGeneric(w, x)
}
