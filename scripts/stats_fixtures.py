# Reference values for src/experiments/stats.rs, computed once with statsmodels and SciPy.
import json, scipy, statsmodels
from statsmodels.stats.proportion import proportion_confint, proportions_ztest
from scipy.stats import norm
cases = [(50,100,65,100),(120,400,150,400),(7,20,15,22),(480,1000,520,1000),(30,1000,45,1000),(600,800,610,790),(5,60,12,58),(333,1000,333,1000)]
out = {"library": f"statsmodels {statsmodels.__version__}, scipy {scipy.__version__}",
       "how": "proportion_confint(count, nobs, alpha=0.05, method='wilson'); proportions_ztest([x2, x1], [n2, n1]) (pooled variance, two-sided); z_975 = scipy.stats.norm.ppf(0.975)",
       "z_975": float(norm.ppf(0.975)), "cases": []}
for x1,n1,x2,n2 in cases:
    lo1,hi1 = proportion_confint(x1,n1,alpha=0.05,method='wilson')
    lo2,hi2 = proportion_confint(x2,n2,alpha=0.05,method='wilson')
    z,p = proportions_ztest([x2,x1],[n2,n1])
    out["cases"].append({"x1":x1,"n1":n1,"x2":x2,"n2":n2,"wilson1":[lo1,hi1],"wilson2":[lo2,hi2],"z":float(z),"p_value":float(p)})
print(json.dumps(out, indent=1))
