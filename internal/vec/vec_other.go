//go:build !amd64 || purego

package vec

const useAsm = false

func dot(a, b []float64) float64         { return dotGeneric(a, b) }
func axpy(alpha float64, x, y []float64) { axpyGeneric(alpha, x, y) }
func quadUpper(w, x []float64) float64   { return quadUpperGeneric(w, x) }

func normHazardAsm(cdf, h, mu, isig []float64, t float64) {
	panic("BUG: vec.normHazardAsm without assembly")
}
