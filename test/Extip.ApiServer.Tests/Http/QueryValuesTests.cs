using Extip.ApiServer.Http;
using Microsoft.AspNetCore.Http;

namespace Extip.ApiServer.Tests.Http;

/// <summary>Issue 12: query values read as kube-apiserver reads them (apimachinery's conversions).</summary>
public sealed class QueryValuesTests
{
    private static IQueryCollection Query(string query) => new QueryCollection(Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(query));

    [Theory]
    [InlineData("?watch=true", true)]
    [InlineData("?watch=True", true)]
    [InlineData("?watch=1", true)]
    [InlineData("?watch=yes", true)]
    [InlineData("?watch=", true)]
    [InlineData("?watch", true)]
    [InlineData("?watch=false", false)]
    [InlineData("?watch=FALSE", false)]
    [InlineData("?watch=0", false)]
    [InlineData("?other=1", false)]
    public void Bool_FalseOnlyFor0OrFalse(string query, bool expected) =>
        Assert.Equal(expected, QueryValues.Bool(Query(query), "watch"));

    [Theory]
    [InlineData("?limit=5", 5L)]
    [InlineData("?limit=%2B5", 5L)]
    [InlineData("?limit=-5", -5L)]
    [InlineData("?other=5", null)]
    public void Long_AsGosParseInt(string query, long? expected) =>
        Assert.Equal(expected, QueryValues.Long(Query(query), "limit"));

    [Theory]
    [InlineData("?limit=abc")]
    [InlineData("?limit=5.0")]
    [InlineData("?limit=")]
    public void Long_Malformed_IsABadRequest(string query)
    {
        var e = Assert.Throws<ApiException>(() => QueryValues.Long(Query(query), "limit"));
        Assert.Equal(400, e.Code);
        Assert.Contains("invalid syntax", e.Message, StringComparison.Ordinal);
    }
}
