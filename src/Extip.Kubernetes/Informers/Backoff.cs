namespace Extip.Kubernetes.Informers;

/// <summary>Exponential backoff with jitter, as client-go's reflector uses for reconnects: 100 ms doubling to 30 s.</summary>
public sealed class Backoff(TimeSpan? initial = null, TimeSpan? max = null)
{
    private readonly TimeSpan _initial = initial ?? TimeSpan.FromMilliseconds(100);
    private readonly TimeSpan _max = max ?? TimeSpan.FromSeconds(30);
    private int _failures;

    public TimeSpan Next()
    {
        var step = Math.Min(_max.TotalMilliseconds, _initial.TotalMilliseconds * Math.Pow(2, Math.Min(_failures++, 20)));
        return TimeSpan.FromMilliseconds(step * (0.8 + (0.4 * Random.Shared.NextDouble())));
    }

    public void Reset() => _failures = 0;
}
