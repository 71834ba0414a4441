namespace Extip.ApiServer.Resources;

/// <summary>Every served resource: the built-in ones and those CustomResourceDefinitions add.</summary>
public sealed class ResourceRegistry
{
    private readonly Lock _gate = new();
    private List<ResourceType> _all = [];

    public IReadOnlyList<ResourceType> All
    {
        get
        {
            lock (_gate)
            {
                return _all;
            }
        }
    }

    public void Register(ResourceType type)
    {
        lock (_gate)
        {
            _all = [.. _all.Where(t => !(t.Group == type.Group && t.Version == type.Version && t.Plural == type.Plural)), type];
        }
    }

    public void Unregister(string group, string plural)
    {
        lock (_gate)
        {
            _all = _all.Where(t => !(t.Group == group && t.Plural == plural)).ToList();
        }
    }

    public ResourceType? Find(string group, string version, string plural) =>
        All.FirstOrDefault(t => t.Group == group && t.Version == version && t.Plural == plural);

    /// <summary>Served groups with their versions, core ("") first, then in registration order.</summary>
    public IEnumerable<(string Group, IReadOnlyList<string> Versions)> Groups() =>
        All.GroupBy(t => t.Group).Select(g => (g.Key, (IReadOnlyList<string>)g.Select(t => t.Version).Distinct().ToList()));
}
