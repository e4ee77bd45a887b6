package trend

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// hamedRaoSignificance is the level at which a rank autocorrelation counts
// as real in Hamed & Rao (1998), eq. 17: |ρ_k| > z(1−α/2)/√n with α = 5 %.
const hamedRaoSignificance = 0.05

// fullACFMaxN is the largest n judged with every lag's autocorrelation
// (Hamed–Rao, O(n²)): 512 points is 3.5 days at 10 min.
const fullACFMaxN = 512

// Why Hamed–Rao rather than trend-free pre-whitening (TFPW, Yue et al. 2002):
// TFPW removes only lag-1 (AR(1)) correlation and rewrites the data, so the
// slope and the test no longer describe the same series; Hamed–Rao leaves the
// data alone, widens Var(S) for correlation at any lag (periodic saw-tooth
// residuals included), and so widens Sen's interval consistently with the
// test. Its known weakness — on short series the sample autocorrelation
// understates strong correlation — is covered by CorrectionStrict and the
// judge's StrictAlpha check (docs/detection.md).

// hamedRaoRatio returns n/n*, the factor by which serial correlation inflates
// Var(S) (Hamed & Rao 1998, "A modified Mann-Kendall trend test for
// autocorrelated data", J. Hydrology 204). It uses the autocorrelation of the
// ranks of the detrended series at every lag, keeping the significant lags.
// The factor is never below 1: negative autocorrelation would make the test
// more liberal, which a release gate does not want.
func hamedRaoRatio(detrended []float64) float64 {
	return new(workspace).hamedRaoRatio(detrended)
}

// hamedRaoRatio is hamedRaoRatio with the ranks and autocovariances in ws.
func (ws *workspace) hamedRaoRatio(detrended []float64) float64 {
	n := len(detrended)
	if n < 3 {
		return 1
	}
	ranks := ws.floats(&ws.ranks, n)
	if cap(ws.order) < n {
		ws.order = make([]int32, n)
	}
	averageRanksInto(detrended, ws.order[:n], ranks)
	mean := float64(n+1) / 2
	for i := range ranks {
		ranks[i] -= mean
	}
	acov := ws.floats(&ws.acov, n)
	autocovarianceInto(ranks, acov)
	if acov[0] <= 0 {
		return 1 // constant series: no correlation to correct for
	}
	nf := float64(n)
	limit := distuv.UnitNormal.Quantile(1-hamedRaoSignificance/2) / math.Sqrt(nf)
	var sum float64
	for k := 1; k < n-2; k++ {
		rho := acov[k] / acov[0]
		if math.Abs(rho) <= limit {
			continue
		}
		kf := float64(k)
		sum += (nf - kf) * (nf - kf - 1) * (nf - kf - 2) * rho
	}
	ratio := 1 + 2/(nf*(nf-1)*(nf-2))*sum
	if ratio < 1 || math.IsNaN(ratio) {
		return 1
	}
	return ratio
}

// autocovarianceInto sets out[k] = Σ_i x_i·x_{i+k} for k = 0..n−1 (x already
// centred, out as long as x).
func autocovarianceInto(x, out []float64) {
	n := len(x)
	for k := 0; k < n; k++ {
		var s float64
		for i := 0; i+k < n; i++ {
			s += x[i] * x[i+k]
		}
		out[k] = s
	}
}

// varianceInflation returns n/n* for the detrended series: Hamed–Rao on every
// lag up to fullACFMaxN points, and above that Yue & Wang's (2004) effective
// sample size from the lag-1 autocorrelation, n/n* = 1 + 2·Σ(1−k/n)·ρ₁ᵏ,
// which costs O(n) where all lags would cost O(n²) (an FFT of 2n points costs
// more than the rest of the analysis together).
func varianceInflation(detrended []float64, c Correction) float64 {
	switch c {
	case CorrectionNone:
		return 1
	case CorrectionStrict:
		if len(detrended) <= fullACFMaxN {
			return math.Max(hamedRaoRatio(detrended), yueWangRatio(detrended, true))
		}
		return yueWangRatio(detrended, true)
	}
	if len(detrended) <= fullACFMaxN {
		return hamedRaoRatio(detrended)
	}
	return yueWangRatio(detrended, false)
}

// inflations returns varianceInflation(detrended, c) and
// varianceInflation(detrended, CorrectionStrict), computing Hamed–Rao once.
func (ws *workspace) inflations(detrended []float64, c Correction) (inflation, strict float64) {
	if len(detrended) > fullACFMaxN {
		strict = yueWangRatio(detrended, true)
		switch c {
		case CorrectionNone:
			return 1, strict
		case CorrectionStrict:
			return strict, strict
		}
		return yueWangRatio(detrended, false), strict
	}
	hr := ws.hamedRaoRatio(detrended)
	strict = math.Max(hr, yueWangRatio(detrended, true))
	switch c {
	case CorrectionNone:
		return 1, strict
	case CorrectionStrict:
		return strict, strict
	}
	return hr, strict
}

// yueWangRatio is n/n* from the lag-1 Pearson autocorrelation; never below
// 1. Uncorrected, only a significant positive autocorrelation counts.
// Bias-corrected (the pessimistic model), Kendall's correction is applied
// and any positive result counts: on 33–67 points a detrended wander's
// lag-1 estimate often falls below the significance line while the
// correlation behind it is strong.
func yueWangRatio(x []float64, biasCorrected bool) float64 {
	n := len(x)
	var mean float64
	for _, v := range x {
		mean += v
	}
	mean /= float64(n)
	var c0, c1 float64
	prev := x[0] - mean
	c0 = prev * prev
	for i := 1; i < n; i++ {
		d := x[i] - mean
		c0 += d * d
		c1 += prev * d
		prev = d
	}
	if c0 <= 0 {
		return 1
	}
	rho := c1 / c0
	nf := float64(n)
	if biasCorrected {
		// Kendall's (1954) bias correction of the lag-1 estimate: short
		// series understate correlation, which lets a wandering series pass
		// for a trend.
		rho = (nf*rho + 1) / (nf - 4)
		if rho <= 0 {
			return 1
		}
	} else if rho <= distuv.UnitNormal.Quantile(1-hamedRaoSignificance/2)/math.Sqrt(nf) {
		return 1
	}
	rho = math.Min(rho, 0.999999)
	// Σ_{k=1}^{n−1} (1−k/n)·ρᵏ = ρ/(1−ρ) − ρ(1−ρⁿ)/(n(1−ρ)²).
	sum := rho/(1-rho) - rho*(1-math.Pow(rho, nf))/(nf*(1-rho)*(1-rho))
	return math.Max(1, 1+2*sum)
}
