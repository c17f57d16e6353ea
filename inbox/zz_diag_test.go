package inbox
import ("testing";"os";"time";"sort";"math/rand/v2";"fmt")
func TestZZDiag(t *testing.T){
 in,err:=Open(os.Getenv("STORE"),Options{}); if err!=nil{t.Fatal(err)}
 defer in.Close()
 rng := rand.New(rand.NewPCG(6, 6))
 var cjk []string
 for _, w := range jaWords { if hasGrams(w) { cjk = append(cjk, w) } }
 word := func() string { return cjk[rng.IntN(len(cjk))] }
 type r struct{q string; d, dn, dm time.Duration; k int}
 var rs []r
 for i:=0;i<400;i++{
  var q string
  switch i % 5 {
  case 0: q = string([]rune(word())[:1])
  case 1: q = word()
  case 2: q = word() + word()
  case 3: q = word() + " " + words[rng.IntN(len(words))]
  default: q = words[rng.IntN(len(words))]
  }
  s:=time.Now(); in.Search(q,50); d:=time.Since(s)
  s=time.Now(); in.searchNames(q,8); dn:=time.Since(s)
  s=time.Now(); in.searchMessages(q,42); dm:=time.Since(s)
  rs=append(rs,r{q,d,dn,dm,i%5})
 }
 for k:=0;k<5;k++{
  var ds, dn, dm []time.Duration
  for _,x:=range rs{ if x.k==k {ds=append(ds,x.d); dn=append(dn,x.dn); dm=append(dm,x.dm)} }
  for _,a:=range [][]time.Duration{ds,dn,dm}{ sort.Slice(a,func(i,j int)bool{return a[i]<a[j]}) }
  t.Log(fmt.Sprintf("kind %d: all p50 %v p95 %v | names p50 %v p95 %v | msgs p50 %v p95 %v", k, ds[len(ds)/2], ds[len(ds)*95/100], dn[len(dn)/2], dn[len(dn)*95/100], dm[len(dm)/2], dm[len(dm)*95/100]))
 }
 sort.Slice(rs,func(i,j int)bool{return rs[i].dm>rs[j].dm})
 for _,x:=range rs[:12]{ t.Log(x.q, x.dm) }
}
